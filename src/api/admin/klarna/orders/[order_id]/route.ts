import type { MedusaRequest, MedusaResponse } from "@medusajs/medusa";
import { KlarnaOrderPanel } from "../../../../../medusa/order-panel";

/**
 * GET /admin/klarna/orders/:order_id (admin auth: Medusa 1.20 authenticates every route under /admin)
 *
 * The order page's Klarna panel: the Klarna order, its captures, the plugin's refund ledger, both
 * books side by side and the actions the panel offers. One Klarna call at most; when Klarna cannot be
 * reached the answer is still 200, with `klarna.error` set. The logic is in medusa/order-panel.ts.
 */
export const GET = async (req: MedusaRequest, res: MedusaResponse): Promise<void> => {
  const panel = await new KlarnaOrderPanel(req.scope).load(req.params.order_id);
  res.status(200).json(panel);
};
