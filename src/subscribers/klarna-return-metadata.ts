import type { SubscriberArgs, SubscriberConfig } from "@medusajs/medusa";
import type KlarnaPaymentProcessor from "../services/klarna";

/**
 * After a received return is committed (`order.items_returned`), mirrors what the plugin did at Klarna
 * into `return.metadata.klarna`, so admins and other tools see the idempotency key and Klarna refund id.
 * Runs after the commit: writing the return row from inside refundPayment would deadlock on the
 * receive transaction's lock.
 */
export default async function klarnaReturnMetadata({ data, container }: SubscriberArgs<{ id: string; return_id?: string }>): Promise<void> {
  const returnId = data?.return_id;
  if (!returnId) return;
  let processor: KlarnaPaymentProcessor;
  try {
    processor = container.resolve("pp_klarna");
  } catch {
    return;
  }
  const klarna = await processor.returnMetadata(returnId);
  if (!klarna) return;
  const returnService = container.resolve("returnService") as any;
  await returnService.update(returnId, { metadata: { klarna } });
}

export const config: SubscriberConfig = {
  event: "order.items_returned",
  context: { subscriberId: "klarna-return-metadata" },
};
