import { v5 as uuidv5 } from "uuid";
import type { KlarnaClient } from "../klarna/client";
import { KlarnaApiError } from "../klarna/errors";
import type { Order } from "../klarna/types";
import { KEY_NAMESPACE } from "./identifiers";
import type { OrderLeases } from "./order-lease";
import type { PaymentRecords } from "./payment-records";
import type { StoreQueries } from "./store-queries";

type Cradle = Record<string, any>;

/** What a notification led to (for logs and tests; Klarna's answer is the same 200 whatever it is). */
export type NotificationOutcome =
  | "unknown_order"
  | "not_this_store"
  | "order_created"
  | "already_completed"
  | "still_pending"
  | "released"
  | "already_released"
  | "recorded_on_order"
  | "not_completed";

/** How long a notification waits for another one of the same Klarna order to finish. */
const LEASE_WAIT_MS = 15_000;

/**
 * Klarna's pending orders (fraud review; KLARNA.md "Pending orders"): a cart whose Klarna order was
 * placed `PENDING` waits in Medusa. When Klarna decides, it POSTs to the session's
 * `merchant_urls.notification` (the plugin's store route). The notification is not signed, so
 * nothing in it is trusted but the order id, and that only as a key: the plugin finds the cart whose
 * Klarna session placed that order (none: nothing is done, and Klarna is not asked), reads the order
 * from Order Management, and acts on what Klarna's order says.
 * - accepted: the cart is completed as Medusa's own completion does (the cart completion strategy,
 *   with an idempotency key of its own), so the shopper need not come back;
 * - rejected or stopped: the Klarna order is released if Klarna left it open; the cart stays not
 *   completed (completing it answers the shopper that Klarna could not approve the purchase).
 * Once per Klarna order, however often and concurrently Klarna notifies: notifications of one order
 * take its lease (the row that serialises every money movement on it) and look at the cart again under it.
 */
export class PendingOrders {
  constructor(
    private readonly deps: {
      client: KlarnaClient;
      queries: StoreQueries;
      leases: OrderLeases;
      payments: PaymentRecords;
      medusa: Cradle;
      log?: (message: string) => void;
    },
  ) {}

  async onNotification(klarnaOrderId: string): Promise<NotificationOutcome> {
    // The store's own books first: an order no cart of this store placed costs no Klarna call.
    const cartId = await this.deps.queries.cartOfKlarnaOrder(klarnaOrderId);
    if (!cartId) return "not_this_store";
    let order: Order;
    try {
      order = await this.deps.client.getOrder(klarnaOrderId);
    } catch (err) {
      if (err instanceof KlarnaApiError && err.status === 404) return "unknown_order";
      throw err;
    }
    // Klarna's order must name the cart that placed it (the session sends the cart id as merchant_reference1).
    if (order.merchant_reference1 !== cartId) return "not_this_store";
    const before = await this.deps.queries.cartState(cartId);
    if (!before) return "not_this_store";

    const lease = await this.deps.leases.acquire(order.order_id, before.order_id, "Klarna's fraud decision", undefined, LEASE_WAIT_MS);
    try {
      const cart = await this.deps.queries.cartState(cartId);
      if (cart?.order_id) return await this.afterOrder(order, cart.order_id);
      if (order.fraud_status === "PENDING") return "still_pending";
      if (order.fraud_status === "ACCEPTED" && order.status === "AUTHORIZED") return await this.complete(cartId, order.order_id);
      return await this.release(order, cartId);
    } finally {
      await lease.release();
    }
  }

  /** Completes the waiting cart as POST /store/carts/:id/complete does (routes/store/carts/complete-cart.js). */
  private async complete(cartId: string, klarnaOrderId: string): Promise<NotificationOutcome> {
    const { manager, idempotencyKeyService, cartCompletionStrategy } = this.deps.medusa;
    const key = await manager.transaction((m: unknown) =>
      idempotencyKeyService.withTransaction(m).initializeRequest("", "POST", { id: cartId }, `/store/carts/${cartId}/complete`),
    );
    const { response_code, response_body } = await cartCompletionStrategy.complete(cartId, key, {});
    if (response_code < 300 && response_body?.type === "order") {
      this.deps.log?.(
        `klarna: Klarna accepted order ${klarnaOrderId} after its fraud review: cart ${cartId} completed as order ${response_body.data?.id}.`,
      );
      return "order_created";
    }
    // Completed meanwhile by the shopper (Medusa allows one order per cart), or refused by Medusa.
    const after = await this.deps.queries.cartState(cartId);
    if (after?.order_id) return "already_completed";
    this.deps.log?.(
      `klarna: Klarna accepted order ${klarnaOrderId}, but Medusa did not complete cart ${cartId}: HTTP ${response_code} ${JSON.stringify(response_body).slice(0, 300)}`,
    );
    return "not_completed";
  }

  /** Rejected or stopped before the cart completed: nothing may stay authorised at Klarna. */
  private async release(order: Order, cartId: string): Promise<NotificationOutcome> {
    if (order.status !== "AUTHORIZED" || order.captured_amount > 0) return "already_released";
    await this.deps.client.cancelOrder(order.order_id, { idempotencyKey: uuidv5(`cancel:${order.order_id}`, KEY_NAMESPACE) });
    this.deps.log?.(
      `klarna: Klarna ${order.fraud_status === "REJECTED" ? "rejected" : "did not accept"} order ${order.order_id}: released it; cart ${cartId} stays not completed.`,
    );
    return "released";
  }

  /**
   * The order exists already (accepted earlier, completed by the shopper): an accepted order needs
   * nothing; one Klarna stopped afterwards is recorded on its payment (capture refuses it anyway:
   * Klarna's fraud status is no longer ACCEPTED) and logged for the admin, who must not ship it.
   */
  private async afterOrder(order: Order, orderId: string): Promise<NotificationOutcome> {
    if (order.fraud_status === "ACCEPTED") return "already_completed";
    const payment = await this.deps.queries.klarnaPayment(orderId);
    if (payment)
      await this.deps.payments.mergeData(payment.payment_id, { fraud_status: order.fraud_status, fraud_decided_at: new Date().toISOString() });
    this.deps.log?.(
      `klarna: Klarna stopped order ${order.order_id} of order ${orderId} (fraud status ${order.fraud_status}, Klarna status ${order.status}): do not ship it.`,
    );
    return "recorded_on_order";
  }
}
