import type { SubscriberArgs, SubscriberConfig } from "@medusajs/medusa";
import { klarnaProcessor } from "../medusa/klarna-processor";

/**
 * After an order edit is confirmed (`order-edit.confirmed`, staged in the confirm's own transaction,
 * so it arrives even when the server stopped right after the commit): the Klarna payment's amount
 * follows Klarna's authorisation (medusa/order-changes.ts). The confirm route's middleware normally
 * did it already; then this finds nothing to do.
 */
export default async function klarnaOrderEdit({ data, container }: SubscriberArgs<{ id: string }>): Promise<void> {
  if (!data?.id) return;
  const processor = klarnaProcessor(container);
  if (!processor) return;
  try {
    await processor.plugin().orderChanges.afterConfirmedEvent(data.id);
  } catch (err) {
    processor.warn(
      `klarna: after order edit ${data.id} was confirmed, the Klarna payment could not be brought in line: ${err instanceof Error ? err.message : err}`,
    );
  }
}

export const config: SubscriberConfig = {
  event: "order-edit.confirmed",
  context: { subscriberId: "klarna-order-edit" },
};
