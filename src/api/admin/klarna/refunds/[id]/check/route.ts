import type { MedusaRequest, MedusaResponse } from "@medusajs/medusa";
import { KlarnaOrderPanel } from "../../../../../../medusa/order-panel";

/**
 * POST /admin/klarna/refunds/:id/check (admin auth; `:id` is the ledger row's id)
 *
 * Asks Klarna now about a refund whose outcome is unknown: reads the Klarna order once and, when a
 * refund with the request's reference is there, marks the ledger row succeeded. Answers
 * `{ found, message, refund }`, the message in words for the admin.
 */
export const POST = async (req: MedusaRequest, res: MedusaResponse): Promise<void> => {
  res.status(200).json(await new KlarnaOrderPanel(req.scope).checkRefund(req.params.id));
};
