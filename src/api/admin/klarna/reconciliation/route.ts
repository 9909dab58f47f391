import type { MedusaRequest, MedusaResponse } from "@medusajs/medusa";
import { PROCESSOR_KEY } from "../../../../medusa/identifiers";
import type KlarnaPaymentProcessor from "../../../../services/klarna";
import { notFound } from "../http-error";

/**
 * GET /admin/klarna/reconciliation[?order_id=…][&klarna_order_id=…][&all=true]
 *
 * Runs the reconciler now: Klarna's captured and refunded totals against Medusa's books, per Klarna
 * order with activity since the last run (or the one order asked for, or every order with `all`).
 * Answers `{ checked, differing, orders: [...] }`: each differing order (and any asked for) with both
 * sides' amounts, what was settled, and findings with a suggested action. Admin auth; no credential.
 */
export const GET = async (req: MedusaRequest, res: MedusaResponse): Promise<void> => {
  const processor = req.scope.resolve(PROCESSOR_KEY) as KlarnaPaymentProcessor;
  const plugin = processor.plugin();
  const q = req.query as Record<string, string | undefined>;
  const ids: string[] = [];
  if (q.klarna_order_id) ids.push(q.klarna_order_id);
  if (q.order_id) {
    const payment = await plugin.queries.klarnaPayment(q.order_id);
    if (!payment) throw notFound(`Order ${q.order_id} was not paid with Klarna.`);
    ids.push(payment.klarna_order_id);
  }
  const run = await plugin.reconciler.run(ids.length ? { klarnaOrderIds: ids } : { all: q.all === "true" });
  res.status(200).json(run);
};
