import type { SubscriberArgs, SubscriberConfig } from "@medusajs/medusa";
import { klarnaProcessor } from "../medusa/klarna-processor";

/**
 * After Medusa committed a shipment (`order.shipment_created`, OrderService.createShipment:
 * `{ id, fulfillment_id, no_notification }`), sends its carrier and tracking numbers to the Klarna
 * capture holding its items (medusa/shipping.ts). Runs after the commit, so it can never break the
 * admin's request; a failure is logged, and Medusa's shipment stands.
 */
export default async function klarnaShippingInfo({ data, container }: SubscriberArgs<{ id: string; fulfillment_id?: string }>): Promise<void> {
  if (!data?.id || !data.fulfillment_id) return;
  const processor = klarnaProcessor(container);
  if (!processor) return;
  try {
    await processor.plugin().shipping.afterShipment(data.id, data.fulfillment_id);
  } catch (err) {
    processor.describeError("shipping info", err, `the tracking of shipment ${data.fulfillment_id} (order ${data.id}) was not sent to Klarna`);
  }
}

export const config: SubscriberConfig = {
  event: "order.shipment_created",
  context: { subscriberId: "klarna-shipping-info" },
};
