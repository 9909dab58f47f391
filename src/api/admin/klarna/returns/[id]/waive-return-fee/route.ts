import type { MedusaRequest, MedusaResponse } from "@medusajs/medusa";
import { FEE_WAIVER_NOTE, PROCESSOR_KEY, PROVIDER_ID } from "../../../../../../medusa/identifiers";
import type KlarnaPaymentProcessor from "../../../../../../services/klarna";
import { createRefundInOwnTransaction } from "../../../create-refund";
import { duplicate, notAllowed } from "../../../http-error";

/**
 * POST /admin/klarna/returns/:id/waive-return-fee
 *
 * Gives back the return fee Klarna charged on a received return: creates a Medusa refund of the fee
 * (so Medusa's books match), which the plugin sends to Klarna as the fee's reversal, once. Every write
 * through Medusa runs in a transaction of this request's own: Medusa 1.x's services are singletons
 * that otherwise share one transaction between concurrent requests.
 */
export const POST = async (req: MedusaRequest, res: MedusaResponse): Promise<void> => {
  const returnId = req.params.id;
  const manager = req.scope.resolve("manager") as any;
  const returnService = req.scope.resolve("returnService") as any;
  const orderService = req.scope.resolve("orderService") as any;
  const processor = req.scope.resolve(PROCESSOR_KEY) as KlarnaPaymentProcessor;

  const ret = await returnService.retrieve(returnId);
  if (ret.status !== "received") {
    throw notAllowed(`Return ${returnId} is ${ret.status}: receive it before giving its return fee back.`);
  }
  const order = await orderService.retrieve(ret.order_id, { relations: ["payments"] });
  const payment = (order.payments ?? []).find((p: { provider_id: string }) => p.provider_id === PROVIDER_ID);
  const klarnaOrderId = payment?.data?.order_id;
  if (!klarnaOrderId) throw notAllowed(`Order ${order.id} was not paid with Klarna.`);
  const waiver = await processor.returnFeeWaiverState(String(klarnaOrderId), returnId);
  if (!waiver.fee) throw notAllowed(`No Klarna return fee was charged for return ${returnId}: there is nothing to give back.`);
  if (waiver.waived) {
    throw duplicate(`The return fee of return ${returnId} was already given back (Klarna refund ${waiver.waived.klarna_refund_id}).`);
  }

  const fee = waiver.fee.amount;
  // A concurrent give-back of the same fee that won makes the plugin refuse this one before sending anything.
  await createRefundInOwnTransaction(
    req.scope,
    { kind: "fee_waiver", return_id: returnId },
    { orderId: order.id, amount: waiver.fee.amount, note: FEE_WAIVER_NOTE(returnId) },
    `The return fee of return ${returnId} was already given back by another request.`,
  );

  // return.metadata.klarna shows the give-back (the receive's subscriber wrote it before it existed).
  const klarna = await processor.returnMetadata(returnId);
  if (klarna) {
    await manager.transaction((m: any) => returnService.withTransaction(m).update(returnId, { metadata: { klarna } }));
  }
  const after = await processor.returnFeeWaiverState(String(klarnaOrderId), returnId);
  const updated = await orderService.retrieveWithTotals(order.id, { relations: ["refunds", "returns"] });
  res.status(200).json({
    order: updated,
    klarna: { return_id: returnId, fee, klarna_refund_id: after.waived?.klarna_refund_id ?? null },
  });
};
