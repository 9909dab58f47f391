import { v4 as uuidv4 } from "uuid";
import type { KlarnaClient } from "../klarna/client";
import type { UpdateAuthorizationRequest } from "../klarna/types";
import { cartOrderLines, type CartLike } from "./cart-lines";
import type { PaymentRecords } from "./payment-records";
import type { StoreQueries } from "./store-queries";

type Cradle = Record<string, any>;

/** An authorisation update Klarna accepted for an order edit Medusa has yet to commit. */
export interface AuthorizationChange {
  order_edit_id: string;
  order_id: string;
  payment_id: string;
  klarna_order_id: string;
  previous: UpdateAuthorizationRequest;
  next: UpdateAuthorizationRequest;
}

/** What Medusa's order totals need to price an order edit (OrderEditService.decorateTotals). */
const ORDER_RELATIONS = [
  "discounts",
  "discounts.rule",
  "gift_cards",
  "region",
  "region.tax_rates",
  "items",
  "items.tax_lines",
  "items.adjustments",
  "items.variant",
  "shipping_methods",
  "shipping_methods.shipping_option",
  "shipping_methods.tax_lines",
];

/** Payment collections that mean the shopper pays an edit's difference with a payment of its own. */
const PAID_SEPARATELY = new Set(["authorized", "partially_authorized"]);

/**
 * An order paid with Klarna whose amount changes before capture (a Medusa 1.20 order edit: items
 * added, removed, quantities changed) must change Klarna's authorisation too (`PATCH
 * …/authorization`), or the capture would take the old amount. Klarna may refuse: an increase runs a
 * new risk check, a decrease below the captured amount is not allowed (KLARNA.md, "Update the
 * authorisation before capture"). So the update is made *before* Medusa confirms the edit (a
 * middleware on the confirm routes): a refusal stops the confirm with Klarna's reason, and Medusa
 * never records an order Klarna does not authorise. After Medusa commits, the payment's amount (what
 * Medusa records as captured) follows; if Medusa's confirm fails, Klarna's authorisation is put back.
 *
 * Left alone: edits whose difference the shopper pays with a payment of its own (an authorised
 * payment collection, Medusa's "request confirmation" flow), and payments already captured (Medusa
 * settles a captured order's difference by refund or a new payment).
 */
export class OrderChanges {
  constructor(
    private readonly deps: {
      client: KlarnaClient;
      queries: StoreQueries;
      payments: PaymentRecords;
      medusa: Cradle;
      log?: (message: string) => void;
    },
  ) {}

  /**
   * Before Medusa confirms the edit: prices it as Medusa will, and updates Klarna's authorisation to
   * the edited order's lines and total. Throws Klarna's refusal; answers undefined when Klarna's
   * authorisation need not change.
   */
  async beforeConfirm(orderEditId: string, by: "admin" | "shopper"): Promise<AuthorizationChange | undefined> {
    const { orderEditService, orderService } = this.deps.medusa;
    const edit = await orderEditService
      .retrieve(orderEditId, { relations: ["items", "items.tax_lines", "items.adjustments", "items.variant", "payment_collection"] })
      .catch(() => undefined);
    if (!edit || edit.confirmed_at || edit.canceled_at || edit.declined_at) return undefined;
    const collection = edit.payment_collection;
    // Paid with a payment of its own: Klarna's authorisation stays. The shopper's route completes an
    // edit with a payment collection only once it is paid (complete-order-edit.js), so there any
    // collection means the difference is not Klarna's.
    if (collection && (by === "shopper" || PAID_SEPARATELY.has(collection.status))) return undefined;
    const payment = await this.deps.queries.klarnaPayment(edit.order_id);
    if (!payment || payment.captured_at || payment.canceled_at) return undefined;

    const order = await orderService.retrieve(edit.order_id, { relations: ORDER_RELATIONS });
    const edited = await orderService.decorateTotals({ ...order, items: edit.items });
    const amount = Number(edited.total);
    const cart: CartLike = {
      id: order.id,
      items: edited.items,
      shipping_methods: edited.shipping_methods,
      gift_card_total: edited.gift_card_total,
      region: order.region,
    };
    const next: UpdateAuthorizationRequest = { order_amount: amount, order_lines: cartOrderLines(cart, amount) };
    const klarna = await this.deps.client.getOrder(payment.klarna_order_id);
    if (klarna.order_amount === amount && JSON.stringify(klarna.order_lines) === JSON.stringify(next.order_lines)) return undefined;
    // A fresh key per confirm (the client's retries reuse it): the update sets an absolute amount and
    // lines, so one applied twice changes nothing, and a confirm retried after Klarna's refusal must
    // not get that refusal replayed for its key (whether Klarna replays 4xx is unconfirmed). An update
    // whose answer was lost is seen on the retry: Klarna's order already shows the edited total.
    await this.deps.client.updateAuthorization(payment.klarna_order_id, next, { idempotencyKey: uuidv4() });
    return {
      order_edit_id: orderEditId,
      order_id: edit.order_id,
      payment_id: payment.payment_id,
      klarna_order_id: payment.klarna_order_id,
      previous: { order_amount: klarna.order_amount, order_lines: klarna.order_lines },
      next,
    };
  }

  /**
   * After Medusa's confirm: committed, the payment's amount becomes what Klarna authorises; rolled
   * back, Klarna's authorisation goes back to what it was (a decrease, which Klarna allows; an
   * increase back is logged when Klarna refuses it). Never throws.
   */
  async afterConfirm(change: AuthorizationChange, committed: boolean): Promise<void> {
    try {
      if (committed) {
        await this.deps.payments.setAuthorizedAmount(change.payment_id, change.next.order_amount, { order_amount: change.next.order_amount });
        return;
      }
      await this.deps.client.updateAuthorization(change.klarna_order_id, change.previous, { idempotencyKey: uuidv4() });
    } catch (err) {
      this.deps.log?.(
        `klarna: after order edit ${change.order_edit_id} (${committed ? "confirmed" : "not confirmed"}), Klarna order ${change.klarna_order_id} authorises ${change.next.order_amount} ` +
          `and ${committed ? "the payment's amount could not be updated" : `could not be put back to ${change.previous.order_amount}`}: ${err instanceof Error ? err.message : err}`,
      );
    }
  }

  /**
   * After an order edit was confirmed (the `order-edit.confirmed` event, delivered even after a
   * restart): the payment's amount follows Klarna's authorisation when Klarna authorises the edited
   * order's total; when it does not (an edit confirmed by code, not through the routes), says so.
   */
  async afterConfirmedEvent(orderEditId: string): Promise<void> {
    const { orderEditService, orderService } = this.deps.medusa;
    const edit = await orderEditService.retrieve(orderEditId).catch(() => undefined);
    if (!edit?.confirmed_at) return;
    const payment = await this.deps.queries.klarnaPayment(edit.order_id);
    if (!payment || payment.captured_at || payment.canceled_at) return;
    const order = await orderService.retrieveWithTotals(edit.order_id);
    const total = Number(order.total);
    if (payment.amount === total) return;
    const klarna = await this.deps.client.getOrder(payment.klarna_order_id);
    if (klarna.order_amount === total) {
      await this.deps.payments.setAuthorizedAmount(payment.payment_id, total, { order_amount: total });
      return;
    }
    this.deps.log?.(
      `klarna: order ${edit.order_id} totals ${total} after order edit ${orderEditId}, but Klarna order ${payment.klarna_order_id} authorises ${klarna.order_amount} ` +
        `and Medusa's payment ${payment.amount}: confirm order edits through the admin route so the plugin updates Klarna's authorisation.`,
    );
  }
}
