import { v5 as uuidv5 } from "uuid";
import type { KlarnaClient } from "../klarna/client";
import { uncapturedLines } from "../klarna/capture-plan";
import { KlarnaApiError } from "../klarna/errors";
import { formatMoney } from "../klarna/money";
import type { Order } from "../klarna/types";
import type { KlarnaPaymentData } from "./exactly-once";
import { KEY_NAMESPACE } from "./identifiers";
import { KlarnaPluginRefusal } from "./payment-error";
import type { ShippingInfoSender } from "./shipping";
import type { StoreQueries } from "./store-queries";

type Data = Record<string, unknown>;

/**
 * Capture and cancel with Klarna Order Management. Medusa records a capture as the payment's whole
 * amount, so the plugin captures exactly what Medusa will record, or refuses: a shortfall is never
 * called "captured". A cancel never leaves money captured at Klarna behind an order Medusa cancels.
 */
export class OrderManagement {
  constructor(
    private readonly client: KlarnaClient,
    private readonly queries: StoreQueries,
    private readonly shipping?: ShippingInfoSender,
  ) {}

  async capture(data: KlarnaPaymentData & Data): Promise<Data> {
    const orderId = requireOrderId(data);
    const order = await this.client.getOrder(orderId);
    const currency = order.purchase_currency;
    // What Medusa records as captured: the payment's amount (the cart's total).
    const expected =
      (typeof data.cart_id === "string" ? await this.queries.klarnaPaymentAmount(data.cart_id) : undefined) ??
      Number(data.order_amount ?? order.order_amount);
    const captures = order.captures.map((c) => ({ capture_id: c.capture_id, captured_amount: c.captured_amount }));
    if (order.captured_amount >= expected) {
      // Already captured (a retry after Medusa rolled back, or in Klarna's portal): record it, capture nothing.
      return { ...data, captures, capture_count: captures.length, captured_amount: order.captured_amount };
    }
    const need = expected - order.captured_amount;
    refuseUncapturable(order, expected, need);
    const full = order.captures.length === 0 && need === order.order_amount;
    // The rest of an order captured in part elsewhere carries the lines not yet captured, so Klarna
    // allocates each later refund to the invoice holding its items (capture-plan.ts).
    const lines = full ? order.order_lines : uncapturedLines(order.order_lines, order.captures, need);
    // Shipped before it was captured: the capture carries the carrier and tracking.
    const medusaOrder = typeof data.cart_id === "string" ? await this.queries.orderByCart(data.cart_id) : undefined;
    const shippingInfo = medusaOrder && this.shipping ? await this.shipping.forCapture(medusaOrder.id) : [];
    const created = await this.client.captureOrder(
      orderId,
      {
        captured_amount: need,
        order_lines: lines,
        reference: typeof data.cart_id === "string" ? data.cart_id : undefined,
        ...(shippingInfo.length ? { shipping_info: shippingInfo } : {}),
      },
      // Derived from the order's state: a retried capture of the same state replays, never captures twice.
      { idempotencyKey: uuidv5(`capture:${orderId}:${order.captured_amount}:${need}`, KEY_NAMESPACE) },
    );
    captures.push({ capture_id: created.captureId, captured_amount: need });
    return { ...data, captures, capture_count: captures.length, captured_amount: order.captured_amount + need, currency };
  }

  /**
   * Medusa 1.20 cancels an order whose payment is captured (only recorded refunds block it) and then
   * calls this: refuse while Klarna holds captured money that Medusa has not refunded.
   */
  async cancel(data: KlarnaPaymentData & Data): Promise<Data> {
    if (!data.order_id) {
      if (typeof data.authorization_token === "string") await this.client.cancelAuthorization(data.authorization_token).catch(ignoreNotFound);
      return { ...data, canceled: true };
    }
    const orderId = requireOrderId(data);
    const order = await this.client.getOrder(orderId);
    const kept = order.captured_amount - order.refunded_amount;
    if (kept > 0) {
      throw new KlarnaPluginRefusal(
        "CAPTURED_NOT_REFUNDED",
        `Klarna has captured ${formatMoney(order.captured_amount, order.purchase_currency)} of this order and refunded ${formatMoney(order.refunded_amount, order.purchase_currency)}: cancelling it would leave ${formatMoney(kept, order.purchase_currency)} with Klarna behind a canceled order. Nothing was cancelled. Refund the captured amount first, then cancel.`,
        { klarna_order_id: orderId },
      );
    }
    if (order.status === "CANCELLED" || order.status === "EXPIRED" || order.status === "CLOSED") return { ...data, canceled: true };
    if (order.captures.length === 0) {
      await this.client.cancelOrder(orderId, { idempotencyKey: uuidv5(`cancel:${orderId}`, KEY_NAMESPACE) });
      return { ...data, canceled: true };
    }
    if (order.remaining_authorized_amount > 0) {
      // Captured and refunded in full: release what is left of the authorisation.
      await this.client.releaseRemainingAuthorization(orderId, { idempotencyKey: uuidv5(`release:${orderId}`, KEY_NAMESPACE) });
      return { ...data, canceled: true, released_remaining_authorization: true };
    }
    return { ...data, canceled: true };
  }
}

function refuseUncapturable(order: Order, expected: number, need: number): void {
  const money = (n: number) => formatMoney(n, order.purchase_currency);
  const expiresAt = order.expires_at ? new Date(order.expires_at) : undefined;
  if (order.status === "EXPIRED" || (expiresAt && expiresAt.getTime() < Date.now() && order.status === "AUTHORIZED")) {
    throw new KlarnaPluginRefusal(
      "AUTHORIZATION_EXPIRED",
      `Klarna's authorisation of this order expired${expiresAt ? ` on ${expiresAt.toISOString().slice(0, 10)}` : ""}. Nothing was captured. Ask the shopper to pay again.`,
      { klarna_order_id: order.order_id },
    );
  }
  if (order.status === "CANCELLED" || order.status === "CLOSED") {
    throw new KlarnaPluginRefusal("ORDER_NOT_CAPTURABLE", `The Klarna order is ${order.status}. Nothing was captured.`, {
      klarna_order_id: order.order_id,
    });
  }
  if (order.fraud_status !== "ACCEPTED") {
    throw new KlarnaPluginRefusal(
      "FRAUD_REVIEW",
      `Klarna's fraud review of this order is ${order.fraud_status}: it cannot be captured before Klarna accepts it. Nothing was captured.`,
      { klarna_order_id: order.order_id },
    );
  }
  if (order.remaining_authorized_amount < need) {
    throw new KlarnaPluginRefusal(
      "CAPTURE_SHORTFALL",
      `Klarna holds only ${money(order.captured_amount + order.remaining_authorized_amount)} of this order's ${money(expected)} (captured ${money(order.captured_amount)}, authorised and not captured ${money(order.remaining_authorized_amount)}): a capture would fall short by ${money(need - order.remaining_authorized_amount)}. Nothing was captured. Edit the order in Medusa to what Klarna holds, or ask the shopper to pay the difference another way.`,
      { klarna_order_id: order.order_id },
    );
  }
}

export function requireOrderId(data: KlarnaPaymentData): string {
  if (typeof data.order_id !== "string" || !data.order_id) {
    throw new KlarnaApiError({
      error_code: "NO_KLARNA_ORDER",
      error_messages: ["This payment has no Klarna order: it was never authorised with Klarna."],
    });
  }
  return data.order_id;
}

export function ignoreNotFound(e: unknown): void {
  if (e instanceof KlarnaApiError && e.status === 404) return;
  throw e;
}
