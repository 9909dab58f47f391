import { v5 as uuidv5 } from "uuid";
import type { KlarnaClient } from "../klarna/client";
import { shippingInfoOf, type Shipment } from "../klarna/shipping-info";
import type { ShippingInfo } from "../klarna/types";
import { KEY_NAMESPACE } from "./identifiers";
import type { ShipmentRow, StoreQueries } from "./store-queries";

/**
 * Klarna asks merchants to send the carrier and tracking of physical goods (KLARNA.md, "Shipping
 * info"): Klarna shows them in the shopper's app and emails. When Medusa marks a fulfillment shipped
 * with tracking numbers, the plugin appends them to the Klarna capture holding its items; a capture
 * made after shipping carries them itself.
 *
 * The carrier is the store's own word for it: the order's shipping option served by the fulfillment's
 * provider (its `metadata.klarna_shipping_company` if set, else its name), else the provider's id.
 * Klarna's `shipping_method` comes from `metadata.klarna_shipping_method` when it is one of Klarna's
 * values, else from the option's name where it says it plainly (a Packstation, a pick-up point), else
 * it is left out.
 */
export function shipmentFromRow(row: ShipmentRow): Shipment {
  const meta = row.option?.metadata ?? {};
  const company = (typeof meta.klarna_shipping_company === "string" && meta.klarna_shipping_company) || row.option?.name || row.provider_id || "";
  const method = typeof meta.klarna_shipping_method === "string" ? meta.klarna_shipping_method : undefined;
  return { company, method, delivery: row.option?.name, tracking: row.tracking ?? [] };
}

export type ShippingInfoOutcome =
  { sent: ShippingInfo[]; capture_id: string } | { sent: []; reason: "no_tracking" | "not_klarna" | "no_capture_yet" | "already_sent" };

export class ShippingInfoSender {
  constructor(
    private readonly client: KlarnaClient,
    private readonly queries: StoreQueries,
  ) {}

  /** What a capture made now carries: every shipment of the order so far. */
  async forCapture(orderId: string): Promise<ShippingInfo[]> {
    const rows = await this.queries.shipmentsOfOrder(orderId);
    return rows.flatMap((r) => shippingInfoOf(shipmentFromRow(r))).slice(0, 500);
  }

  /**
   * After Medusa committed a shipment: appends its tracking to the Klarna capture holding its items
   * (the latest such capture; the latest capture when none holds them). Idempotent: tracking numbers
   * the capture already shows are not sent again, and the key is derived from the shipment.
   */
  async afterShipment(orderId: string, fulfillmentId: string): Promise<ShippingInfoOutcome> {
    const payment = await this.queries.klarnaPayment(orderId);
    if (!payment) return { sent: [], reason: "not_klarna" };
    const row = await this.queries.shipment(fulfillmentId);
    if (!row) return { sent: [], reason: "no_tracking" };
    const entries = shippingInfoOf(shipmentFromRow(row));
    if (!entries.length) return { sent: [], reason: "no_tracking" };
    const order = await this.client.getOrder(payment.klarna_order_id);
    if (!order.captures.length) return { sent: [], reason: "no_capture_yet" };
    const holding = order.captures.filter((c) => (c.order_lines ?? []).some((l) => l.reference && row.skus.includes(l.reference)));
    const capture = (holding.length ? holding : order.captures)[(holding.length ? holding : order.captures).length - 1];
    const known = new Set((capture.shipping_info ?? []).map((s) => s.tracking_number));
    const fresh = entries.filter((e) => !known.has(e.tracking_number));
    if (!fresh.length) return { sent: [], reason: "already_sent" };
    await this.client.addShippingInfo(
      payment.klarna_order_id,
      capture.capture_id,
      { shipping_info: fresh },
      {
        idempotencyKey: uuidv5(
          `shipping-info:${payment.klarna_order_id}:${capture.capture_id}:${fulfillmentId}:${fresh.map((e) => e.tracking_number).join(",")}`,
          KEY_NAMESPACE,
        ),
      },
    );
    return { sent: fresh, capture_id: capture.capture_id };
  }
}
