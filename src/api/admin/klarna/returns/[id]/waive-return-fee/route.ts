import type { MedusaRequest, MedusaResponse } from "@medusajs/medusa";
import { finishScope, runWithRefundContext } from "../../../../../../medusa/refund-context";
import type KlarnaPaymentProcessor from "../../../../../../services/klarna";

/**
 * An error Medusa's error handler answers by its `type`, keeping the message: not_allowed → 400,
 * duplicate_error → 422 (its "conflict" type would replace the message with a generic one).
 */
function httpError(type: "not_allowed" | "duplicate_error", message: string): Error {
  return Object.assign(new Error(message), { type });
}

/**
 * POST /admin/klarna/returns/:id/waive-return-fee
 *
 * Gives back the return fee Klarna charged on a received return: creates a Medusa refund of the fee
 * (so Medusa's books match), which the plugin sends to Klarna as the fee's reversal, once.
 */
export const POST = async (req: MedusaRequest, res: MedusaResponse): Promise<void> => {
  const returnId = req.params.id;
  const returnService = req.scope.resolve("returnService") as any;
  const orderService = req.scope.resolve("orderService") as any;
  const processor = req.scope.resolve("pp_klarna") as KlarnaPaymentProcessor;

  const ret = await returnService.retrieve(returnId);
  if (ret.status !== "received") {
    throw httpError("not_allowed", `Return ${returnId} is ${ret.status}: receive it before waiving its return fee.`);
  }
  const order = await orderService.retrieve(ret.order_id, { relations: ["payments"] });
  const payment = (order.payments ?? []).find((p: { provider_id: string }) => p.provider_id === "klarna");
  const klarnaOrderId = payment?.data?.order_id;
  if (!klarnaOrderId) {
    throw httpError("not_allowed", `Order ${order.id} was not paid with Klarna.`);
  }
  const waiver = await processor.returnFeeWaiverState(String(klarnaOrderId), returnId);
  if (!waiver.fee) {
    throw httpError("not_allowed", `No Klarna return fee was charged for return ${returnId}: there is nothing to give back.`);
  }
  if (waiver.waived) {
    throw httpError(
      "duplicate_error",
      `The return fee of return ${returnId} was already given back (Klarna refund ${waiver.waived.klarna_refund_id}).`,
    );
  }
  const { scope, result } = runWithRefundContext({ kind: "fee_waiver", return_id: returnId }, () =>
    orderService.createRefund(order.id, waiver.fee!.amount, "other", `Klarna return fee of return ${returnId} refunded`),
  );
  try {
    await result;
  } finally {
    await finishScope(scope);
  }
  const after = await processor.returnFeeWaiverState(String(klarnaOrderId), returnId);
  const updated = await orderService.retrieveWithTotals(order.id, { relations: ["refunds", "returns"] });
  res.status(200).json({
    order: updated,
    klarna: { return_id: returnId, fee: waiver.fee.amount, klarna_refund_id: after.waived?.klarna_refund_id ?? null },
  });
};
