import type { SubscriberArgs, SubscriberConfig } from "@medusajs/medusa";
import { klarnaProcessor } from "../medusa/klarna-processor";

/**
 * After a received return is committed (`order.items_returned`), mirrors what the plugin did at Klarna
 * into `return.metadata.klarna`, so admins and other tools see the idempotency key and Klarna refund id.
 * Runs after the commit: writing the return row from inside refundPayment would deadlock on the
 * receive transaction's lock. Writes in a transaction of its own (Medusa's services are singletons).
 */
export default async function klarnaReturnMetadata({ data, container }: SubscriberArgs<{ id: string; return_id?: string }>): Promise<void> {
  const returnId = data?.return_id;
  if (!returnId) return;
  const processor = klarnaProcessor(container);
  if (!processor) return;
  const klarna = await processor.returnMetadata(returnId);
  if (!klarna) return;
  const manager = container.resolve("manager") as any;
  const returnService = container.resolve("returnService") as any;
  await manager.transaction((m: any) => returnService.withTransaction(m).update(returnId, { metadata: { klarna } }));
}

export const config: SubscriberConfig = {
  event: "order.items_returned",
  context: { subscriberId: "klarna-return-metadata" },
};
