import { v5 as uuidv5 } from "uuid";
import type { KlarnaClient } from "../klarna/client";
import type { FraudStatus } from "../klarna/types";
import { sessionFromCart, CartLike } from "./cart-lines";
import { KEY_NAMESPACE, NOTIFICATION_PATH } from "./identifiers";
import type { KlarnaPluginOptions } from "./options";
import { KlarnaPluginRefusal } from "./payment-error";
import type { KlarnaPaymentData } from "./exactly-once";

type Data = Record<string, unknown>;

/** The session data the storefront reads: what Klarna's widget needs. */
export interface SessionData extends Data {
  session_id: string;
  client_token: string;
}

/**
 * Checkout with Klarna Payments: the session follows the cart, and the order is placed when the cart
 * completes. A Klarna order is accepted for a cart only when it is that cart's: the widget's token
 * must be the token of this cart's Klarna session, and the place-order key covers what makes the order
 * unique (token, cart, amount, currency), so Klarna never replays another cart's order for this one.
 */
export class Checkout {
  constructor(
    private readonly client: KlarnaClient,
    private readonly options: KlarnaPluginOptions,
    private readonly log?: (message: string) => void,
  ) {}

  private body(cart: CartLike, amount: number) {
    return sessionFromCart(cart, amount, { locale: this.options.locale, merchantUrls: merchantUrls(this.options) });
  }

  async createSession(cart: CartLike, amount: number): Promise<SessionData> {
    const body = this.body(cart, amount);
    const session = await this.client.createSession(body);
    return {
      session_id: session.session_id,
      client_token: session.client_token,
      payment_method_categories: session.payment_method_categories,
      cart_id: cart.id,
      purchase_country: body.purchase_country,
      purchase_currency: body.purchase_currency,
      locale: body.locale,
      order_amount: body.order_amount,
    };
  }

  /**
   * Keeps Klarna's session in step with the cart. When Klarna cannot be reached the cart change must
   * still go through (Medusa refreshes every provider's session on every cart change, and one failing
   * provider fails them all): the session is kept, marked stale, and brought up to date on the next
   * change or when the order is placed, which always sends the cart as it is then.
   */
  async updateSession(cart: CartLike, amount: number, data: KlarnaPaymentData & Data): Promise<Data> {
    if (!data.session_id) return this.createSession(cart, amount);
    const body = this.body(cart, amount);
    if (body.purchase_country !== data.purchase_country || body.purchase_currency !== data.purchase_currency) {
      // A Klarna session cannot change market: start a new one.
      return this.createSession(cart, amount);
    }
    try {
      await this.client.updateSession(String(data.session_id), body);
    } catch (err) {
      this.log?.(
        `klarna: could not update Klarna session ${data.session_id} for cart ${cart.id}; kept as stale (${err instanceof Error ? err.message : err})`,
      );
      return { ...data, stale: true };
    }
    const { stale: _stale, ...rest } = data;
    return { ...rest, locale: body.locale, order_amount: body.order_amount };
  }

  /** Places the Klarna order for the cart with the widget's token, once. */
  async placeOrder(
    cart: CartLike & { total: number },
    data: KlarnaPaymentData & Data,
    token: string,
  ): Promise<{ data: Data; fraudStatus: FraudStatus }> {
    if (typeof data.session_id === "string" && data.session_id) {
      // The token must come from this cart's own Klarna session: a token from another cart would
      // otherwise pay for this one with someone else's authorisation.
      const session = await this.client.readSession(data.session_id);
      if (session.authorization_token !== token) {
        throw new KlarnaPluginRefusal(
          "TOKEN_NOT_FOR_CART",
          `The Klarna authorization token given for cart ${cart.id} is not the token of its Klarna session ${data.session_id}. Nothing was placed.`,
          { session_id: data.session_id },
          "The Klarna payment does not belong to this cart. Please choose Klarna again to pay for this cart",
        );
      }
    }
    const body = this.body(cart, cart.total);
    const key = uuidv5(`place-order:${token}:${cart.id}:${body.order_amount}:${body.purchase_currency}`, KEY_NAMESPACE);
    const placed = await this.client.placeOrder(token, body, { idempotencyKey: key });
    // One read of the placed order: it must be this cart's (Klarna replays an order for a key it has
    // seen), and it tells until when the order can be captured.
    const order = await this.client.getOrder(placed.order_id);
    const mismatch = [
      order.merchant_reference1 !== cart.id ? `merchant_reference1 ${order.merchant_reference1 ?? "(none)"} instead of cart ${cart.id}` : "",
      order.order_amount !== body.order_amount ? `order_amount ${order.order_amount} instead of ${body.order_amount}` : "",
      order.purchase_currency !== body.purchase_currency ? `purchase_currency ${order.purchase_currency} instead of ${body.purchase_currency}` : "",
    ].filter(Boolean);
    if (mismatch.length) {
      throw new KlarnaPluginRefusal(
        "ORDER_NOT_FOR_CART",
        `Klarna answered the purchase of cart ${cart.id} with order ${placed.order_id}, which is not this cart's (${mismatch.join(", ")}). Nothing was recorded for the cart; that Klarna order was left as it is.`,
        { klarna_order_id: placed.order_id },
        "The Klarna payment does not match this cart. Please choose Klarna again to pay for this cart",
      );
    }
    if (placed.fraud_status === "REJECTED") {
      throw new KlarnaPluginRefusal(
        "FRAUD_REJECTED",
        `Klarna rejected the purchase (fraud status REJECTED), Klarna order ${placed.order_id}.`,
        { klarna_order_id: placed.order_id },
        "Klarna could not approve this purchase. Please choose another payment method",
      );
    }
    // The widget's token and categories are spent: keep the payment's data small, Medusa loads it often.
    const { client_token: _t, payment_method_categories: _c, stale: _s, ...kept } = data;
    return {
      fraudStatus: placed.fraud_status,
      data: {
        ...kept,
        order_id: placed.order_id,
        fraud_status: placed.fraud_status,
        cart_id: cart.id,
        purchase_country: body.purchase_country,
        purchase_currency: body.purchase_currency,
        order_amount: body.order_amount,
        expires_at: order.expires_at,
        klarna_read_at: new Date().toISOString(),
        capture_count: 0,
      },
    };
  }
}

/**
 * The merchant URLs sent with a session: the options' own, and the notification URL of the plugin's
 * store route (Klarna's pending-order notifications) when the store's public URL (`backend_url`) is
 * known and no notification URL is configured.
 */
export function merchantUrls(options: KlarnaPluginOptions): KlarnaPluginOptions["merchant_urls"] {
  const urls = { ...(options.merchant_urls ?? {}) };
  if (!urls.notification && options.backend_url) urls.notification = options.backend_url.replace(/\/+$/, "") + NOTIFICATION_PATH;
  return Object.keys(urls).length ? urls : undefined;
}
