import type { MedusaRequest, MedusaResponse } from "@medusajs/medusa";
import { PROCESSOR_KEY } from "../../../../medusa/identifiers";
import type KlarnaPaymentProcessor from "../../../../services/klarna";

/** Klarna waits a few seconds for an answer and retries what it gets no 2xx for (docs "Pending orders"). */
const ANSWER_WITHIN_MS = 3000;

/**
 * POST /store/klarna/notifications  { "order_id": "…", "event_id": "…", "event_type": "FRAUD_RISK_ACCEPTED" }
 *
 * Where Klarna's pending-order notifications arrive (`merchant_urls.notification`; the plugin sends
 * it with each session when the `backend_url` option is set). No authentication: Klarna does not sign
 * them, so the plugin trusts only the order id and reads the order from Klarna (medusa/pending-orders.ts).
 * Answers 200 `{ "received": true }` for every well-formed notification, of a known order or not
 * (nothing is told about orders), as soon as the work is done or after 3 s while it goes on; 500 when
 * Klarna or the database could not be reached, so Klarna sends it again.
 */
export const POST = async (req: MedusaRequest, res: MedusaResponse): Promise<void> => {
  const orderId = (req.body as { order_id?: unknown } | undefined)?.order_id;
  if (typeof orderId !== "string" || !/^[A-Za-z0-9_-]{1,255}$/.test(orderId)) {
    res.status(400).json({ type: "invalid_data", message: "order_id must be a Klarna order id." });
    return;
  }
  const processor = req.scope.resolve(PROCESSOR_KEY) as KlarnaPaymentProcessor;
  let answered = false;
  const answer = (status: number) => {
    if (answered) return;
    answered = true;
    res
      .status(status)
      .json(
        status === 200
          ? { received: true }
          : { type: "unexpected_state", message: "The notification could not be processed now. Send it again later." },
      );
  };
  const timer = setTimeout(() => answer(200), ANSWER_WITHIN_MS);
  try {
    await processor.plugin().pendingOrders.onNotification(orderId);
    answer(200);
  } catch (err) {
    processor.warn(`klarna: a notification of Klarna order ${orderId} could not be processed: ${err instanceof Error ? err.message : err}`);
    answer(500);
  } finally {
    clearTimeout(timer);
  }
};
