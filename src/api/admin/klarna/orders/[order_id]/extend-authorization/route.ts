import type { MedusaRequest, MedusaResponse } from "@medusajs/medusa";
import { PROCESSOR_KEY } from "../../../../../../medusa/identifiers";
import type KlarnaPaymentProcessor from "../../../../../../services/klarna";
import { klarnaRefused, notFound } from "../../../http-error";

/**
 * POST /admin/klarna/orders/:order_id/extend-authorization (admin auth)
 *
 * Extends how long Klarna keeps the order capturable (`POST …/extend-authorization-time`; Klarna
 * moves `expires_at` to the day of the call plus the account's expiry days, at most 180 days after
 * the purchase) and stores the new expiry in the payment's data. Answers `{ message, expires_at }`,
 * or 400 with Klarna's reason when it refuses (captured, cancelled or expired orders), 404 for an
 * order not paid with Klarna. The admin panel's "extend authorisation" button calls it.
 */
export const POST = async (req: MedusaRequest, res: MedusaResponse): Promise<void> => {
  const orderId = req.params.order_id;
  const processor = req.scope.resolve(PROCESSOR_KEY) as KlarnaPaymentProcessor;
  const plugin = processor.plugin();
  const payment = await plugin.queries.klarnaPayment(orderId);
  if (!payment) throw notFound(`Order ${orderId} was not paid with Klarna.`);
  let extension;
  try {
    extension = await plugin.authorizationTime.extend(payment);
  } catch (err) {
    throw klarnaRefused(processor.describeError("authorisation extension", err));
  }
  const day = extension.expires_at.slice(0, 10);
  res.status(200).json({
    message: `Klarna extended the authorisation: the order can be captured until ${day}${extension.previous_expires_at ? ` (it was ${extension.previous_expires_at.slice(0, 10)})` : ""}.`,
    expires_at: extension.expires_at,
  });
};
