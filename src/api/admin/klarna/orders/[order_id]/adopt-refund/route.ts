import type { MedusaRequest, MedusaResponse } from "@medusajs/medusa";
import { formatMoney } from "../../../../../../klarna/money";
import { ADOPTION_NOTE, PROCESSOR_KEY } from "../../../../../../medusa/identifiers";
import type KlarnaPaymentProcessor from "../../../../../../services/klarna";
import { createRefundInOwnTransaction } from "../../../create-refund";
import { notAllowed, notFound } from "../../../http-error";

/**
 * POST /admin/klarna/orders/:order_id/adopt-refund  { "klarna_refund_id": "…" }
 *
 * Records in Medusa a refund Klarna already made that Medusa never recorded (an earlier attempt whose
 * return was cancelled, a refund made in Klarna's merchant portal): Medusa gets a refund row of that
 * amount, and nothing is sent to Klarna. The reconciler suggests it where it fits.
 */
export const POST = async (req: MedusaRequest, res: MedusaResponse): Promise<void> => {
  const orderId = req.params.order_id;
  const klarnaRefundId = (req.body as { klarna_refund_id?: unknown } | undefined)?.klarna_refund_id;
  if (typeof klarnaRefundId !== "string" || !klarnaRefundId)
    throw notAllowed("klarna_refund_id is required: the id of the refund on the Klarna order.");
  const orderService = req.scope.resolve("orderService") as any;
  const processor = req.scope.resolve(PROCESSOR_KEY) as KlarnaPaymentProcessor;
  const plugin = processor.plugin();

  const payment = await plugin.queries.klarnaPayment(orderId);
  if (!payment) throw notFound(`Order ${orderId} was not paid with Klarna.`);
  const klarnaOrder = await plugin.client.getOrder(payment.klarna_order_id);
  const refund = klarnaOrder.refunds.find((r) => r.refund_id === klarnaRefundId);
  if (!refund) throw notFound(`Klarna order ${payment.klarna_order_id} has no refund ${klarnaRefundId}.`);
  // Already recorded in Medusa (by the ledger or by Medusa's payment data): the plugin refuses it
  // before anything is written, and the admin gets 422.
  await createRefundInOwnTransaction(
    req.scope,
    { kind: "adoption", order_id: orderId, klarna_refund_id: klarnaRefundId },
    { orderId, amount: refund.refunded_amount, note: ADOPTION_NOTE(klarnaRefundId) },
    `Medusa already records Klarna refund ${klarnaRefundId}. Nothing was recorded again.`,
  );
  const updated = await orderService.retrieveWithTotals(orderId, { relations: ["refunds"] });
  res.status(200).json({
    order: updated,
    klarna: {
      klarna_refund_id: klarnaRefundId,
      amount: refund.refunded_amount,
      message: `Recorded Klarna refund ${klarnaRefundId} (${formatMoney(refund.refunded_amount, klarnaOrder.purchase_currency)}) in Medusa. Nothing was sent to Klarna.`,
    },
  });
};
