import {
  AbstractPaymentProcessor,
  PaymentProcessorContext,
  PaymentProcessorError,
  PaymentProcessorSessionResponse,
  PaymentSessionStatus,
} from "@medusajs/medusa";
import { v5 as uuidv5 } from "uuid";
import { KlarnaClient } from "../klarna/client";
import { KlarnaApiError } from "../klarna/errors";
import { withheldFeeLine } from "../klarna/refund-plan";
import type { RefundRequest } from "../klarna/types";
import { sessionFromCart, CartLike } from "../medusa/cart-lines";
import { parseOptions, KlarnaPluginOptions } from "../medusa/options";
import { paymentError, PaymentAction } from "../medusa/payment-error";
import { PluginDatabase } from "../medusa/plugin-db";
import { currentRefundScope } from "../medusa/refund-context";
import { KlarnaPaymentData, KlarnaRefunds } from "../medusa/refunds";
import { StoreReader } from "../medusa/return-reader";

/** Namespace for keys derived from Klarna ids (placing an order, capturing): a retry derives the same key. */
const KEY_NAMESPACE = "6f1c3a52-9d1e-4b8e-8a43-2f0e6f4d5b17";

const CART_RELATIONS = [
  "items",
  "items.variant",
  "items.tax_lines",
  "items.adjustments",
  "shipping_methods",
  "shipping_methods.shipping_option",
  "shipping_methods.tax_lines",
  "shipping_address",
  "billing_address",
  "region",
  "region.countries",
  "gift_cards",
  "discounts",
  "discounts.rule",
];

type Data = Record<string, unknown>;
type Cradle = Record<string, any>; // awilix cradle: resolve lazily, inside methods

/**
 * Klarna for Medusa 1.x: Klarna Payments for checkout, Order Management for capture, cancel and
 * return-aware refunds. Registered by Medusa as `pp_klarna`.
 */
class KlarnaPaymentProcessor extends AbstractPaymentProcessor {
  static identifier = "klarna";

  protected readonly options_: KlarnaPluginOptions;
  protected readonly client_: KlarnaClient;
  protected readonly cradle_: Cradle;
  private refunds_?: KlarnaRefunds;

  constructor(container: Cradle, options: Record<string, unknown>) {
    super(container, options);
    this.cradle_ = container;
    // Validated when Medusa boots: a bad option stops the store naming every bad field.
    this.options_ = parseOptions(options);
    this.client_ = new KlarnaClient({
      username: this.options_.username,
      password: this.options_.password,
      region: this.options_.region,
      environment: this.options_.environment,
      baseUrl: this.options_.base_url,
      timeoutMs: this.options_.timeout_ms,
      retry: { retries: this.options_.retries, baseDelayMs: this.options_.retry_base_delay_ms },
      logger: {
        warn: (m) => this.logger()?.warn?.(m),
      },
      userAgentSuffix: "medusa/1",
    });
  }

  private logger(): { info?: (m: string) => void; warn?: (m: string) => void } | undefined {
    try {
      return this.cradle_.logger;
    } catch {
      return undefined;
    }
  }

  protected error(action: PaymentAction, err: unknown): PaymentProcessorError {
    const out = paymentError(action, err, [this.options_.password]);
    this.logger()?.warn?.(`klarna: ${out.error} (${out.detail})`);
    currentRefundScope()?.failures.push(out);
    return out;
  }

  // ---- checkout (Klarna Payments) ----------------------------------------------------------------

  private async loadCart(cartId: string): Promise<CartLike & { total: number }> {
    return this.cradle_.cartService.retrieveWithTotals(cartId, { relations: CART_RELATIONS });
  }

  private sessionBody(cart: CartLike, amount: number) {
    return sessionFromCart(cart, amount, { locale: this.options_.locale, merchantUrls: this.options_.merchant_urls });
  }

  async initiatePayment(context: PaymentProcessorContext): Promise<PaymentProcessorError | PaymentProcessorSessionResponse> {
    try {
      const cart = await this.loadCart(context.resource_id);
      const body = this.sessionBody(cart, context.amount);
      const session = await this.client_.createSession(body);
      return {
        session_data: {
          session_id: session.session_id,
          client_token: session.client_token,
          payment_method_categories: session.payment_method_categories,
          cart_id: cart.id,
          purchase_country: body.purchase_country,
          purchase_currency: body.purchase_currency,
          locale: body.locale,
          order_amount: body.order_amount,
        },
      };
    } catch (e) {
      return this.error("payment session", e);
    }
  }

  async updatePayment(context: PaymentProcessorContext): Promise<PaymentProcessorError | PaymentProcessorSessionResponse | void> {
    const data = (context.paymentSessionData ?? {}) as KlarnaPaymentData & Data;
    if (!data.session_id) return this.initiatePayment(context);
    if (data.order_id) return; // the Klarna order is placed; the session is closed
    try {
      const cart = await this.loadCart(context.resource_id);
      const body = this.sessionBody(cart, context.amount);
      if (body.purchase_country !== data.purchase_country || body.purchase_currency !== data.purchase_currency) {
        // A Klarna session cannot change market: start a new one.
        return this.initiatePayment(context);
      }
      await this.client_.updateSession(String(data.session_id), body);
      return { session_data: { ...data, locale: body.locale, order_amount: body.order_amount } };
    } catch (e) {
      return this.error("payment session", e);
    }
  }

  /** The storefront stores what Klarna's widget gave it: `{ authorization_token }`. */
  async updatePaymentData(_sessionId: string, data: Data): Promise<PaymentProcessorError | Data> {
    const token = data?.authorization_token;
    if (token !== undefined && (typeof token !== "string" || !token)) {
      return { error: "authorization_token must be the non-empty string Klarna's widget returned.", code: "INVALID_AUTHORIZATION_TOKEN", detail: { field: "authorization_token" } };
    }
    return token ? { authorization_token: token } : {};
  }

  async authorizePayment(
    paymentSessionData: Data,
    context: Data,
  ): Promise<PaymentProcessorError | { status: PaymentSessionStatus; data: Data }> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    if (data.order_id) {
      if (data.fraud_status === "ACCEPTED") return { status: PaymentSessionStatus.AUTHORIZED, data };
      // Placed while Klarna's fraud review was PENDING: completing the cart again asks Klarna again.
      try {
        const order = await this.client_.getOrder(String(data.order_id));
        if (order.fraud_status === "REJECTED") {
          return { error: "Klarna rejected the purchase after its fraud review (fraud status REJECTED). Ask the shopper to choose another payment method.", code: "FRAUD_REJECTED", detail: `Klarna order ${order.order_id}` };
        }
        return { status: statusOfFraud(order.fraud_status), data: { ...data, fraud_status: order.fraud_status } };
      } catch (e) {
        return this.error("order lookup", e);
      }
    }
    const token = data.authorization_token;
    if (typeof token !== "string" || !token) return { status: PaymentSessionStatus.REQUIRES_MORE, data };
    try {
      const cartId = String(context?.cart_id || data.cart_id);
      const cart = await this.loadCart(cartId);
      const body = this.sessionBody(cart, cart.total);
      // The key derives from the token: a retried completion replays the same order placement.
      const placed = await this.client_.placeOrder(token, body, { idempotencyKey: uuidv5(`place-order:${token}`, KEY_NAMESPACE) });
      if (placed.fraud_status === "REJECTED") {
        return { error: "Klarna rejected the purchase (fraud status REJECTED). Ask the shopper to choose another payment method.", code: "FRAUD_REJECTED", detail: `Klarna order ${placed.order_id}` };
      }
      // The widget's token and categories are spent: keep the payment's data small, Medusa loads it often.
      const { client_token: _token, payment_method_categories: _categories, ...kept } = data;
      return {
        status: statusOfFraud(placed.fraud_status),
        data: {
          ...kept,
          order_id: placed.order_id,
          fraud_status: placed.fraud_status,
          cart_id: cart.id,
          purchase_country: body.purchase_country,
          purchase_currency: body.purchase_currency,
          order_amount: body.order_amount,
          capture_count: 0,
        },
      };
    } catch (e) {
      return this.error("order", e);
    }
  }

  // ---- after the order (Order Management) ------------------------------------------------------

  async capturePayment(paymentSessionData: Data): Promise<PaymentProcessorError | Data> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    try {
      const orderId = requireOrderId(data);
      const order = await this.client_.getOrder(orderId);
      const captures = order.captures.map((c) => ({ capture_id: c.capture_id, captured_amount: c.captured_amount }));
      if (order.remaining_authorized_amount === 0 && captures.length) {
        // Already captured (a retry after Medusa rolled back): record it, capture nothing.
        return { ...data, captures, capture_count: captures.length, captured_amount: order.captured_amount };
      }
      const full = order.captures.length === 0 && order.remaining_authorized_amount === order.order_amount;
      const created = await this.client_.captureOrder(
        orderId,
        {
          captured_amount: order.remaining_authorized_amount,
          order_lines: full ? order.order_lines : undefined,
          reference: typeof data.cart_id === "string" ? data.cart_id : undefined,
        },
        { idempotencyKey: uuidv5(`capture:${orderId}:${order.captures.length}`, KEY_NAMESPACE) },
      );
      captures.push({ capture_id: created.captureId, captured_amount: order.remaining_authorized_amount });
      return {
        ...data,
        captures,
        capture_count: captures.length,
        captured_amount: order.captured_amount + order.remaining_authorized_amount,
      };
    } catch (e) {
      return this.error("capture", e);
    }
  }

  async refundPayment(paymentSessionData: Data, refundAmount: number): Promise<PaymentProcessorError | Data> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    try {
      const { row } = await this.refunds().refund(data, refundAmount);
      const refunds = [...(Array.isArray(data.refunds) ? data.refunds : [])];
      if (!refunds.some((r) => r.klarna_refund_id === row.klarna_refund_id)) {
        refunds.push({ klarna_refund_id: String(row.klarna_refund_id), amount: row.amount, intent: row.intent, idempotency_key: row.idempotency_key });
      }
      return { ...data, refunds };
    } catch (e) {
      return this.error("refund", e);
    }
  }

  async cancelPayment(paymentSessionData: Data): Promise<PaymentProcessorError | Data> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    try {
      if (!data.order_id) {
        if (typeof data.authorization_token === "string") await this.client_.cancelAuthorization(data.authorization_token).catch(ignoreNotFound);
        return { ...data, canceled: true };
      }
      const orderId = requireOrderId(data);
      if (!data.capture_count) {
        try {
          await this.client_.cancelOrder(orderId, { idempotencyKey: uuidv5(`cancel:${orderId}`, KEY_NAMESPACE) });
          return { ...data, canceled: true };
        } catch (e) {
          if (!(e instanceof KlarnaApiError && e.error_code === "CANCEL_NOT_ALLOWED")) throw e;
        }
      }
      // Something was captured: release what is left of the authorisation instead.
      await this.client_.releaseRemainingAuthorization(orderId, { idempotencyKey: uuidv5(`release:${orderId}`, KEY_NAMESPACE) });
      return { ...data, canceled: true, released_remaining_authorization: true };
    } catch (e) {
      return this.error("cancellation", e);
    }
  }

  async deletePayment(paymentSessionData: Data): Promise<PaymentProcessorError | Data> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    try {
      if (!data.order_id && typeof data.authorization_token === "string") {
        await this.client_.cancelAuthorization(data.authorization_token).catch(ignoreNotFound);
      }
      return data;
    } catch (e) {
      return this.error("cancellation", e);
    }
  }

  /**
   * Medusa stores what this returns as the payment's data (PaymentProviderService.createPayment), so it
   * returns the data with the Klarna order's current fraud status, not a snapshot of amounts that go stale.
   */
  async retrievePayment(paymentSessionData: Data): Promise<PaymentProcessorError | Data> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    try {
      if (!data.order_id) return data;
      const o = await this.client_.getOrder(String(data.order_id));
      return { ...data, fraud_status: o.fraud_status };
    } catch (e) {
      return this.error("order lookup", e);
    }
  }

  async getPaymentStatus(paymentSessionData: Data): Promise<PaymentSessionStatus> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    if (!data.order_id) return data.authorization_token ? PaymentSessionStatus.PENDING : PaymentSessionStatus.REQUIRES_MORE;
    try {
      const o = await this.client_.getOrder(String(data.order_id));
      if (o.status === "CANCELLED" || o.status === "EXPIRED" || o.status === "CLOSED") return PaymentSessionStatus.CANCELED;
      return statusOfFraud(o.fraud_status);
    } catch {
      return PaymentSessionStatus.ERROR;
    }
  }

  // ---- refunds ---------------------------------------------------------------------------------

  /** The return fee Klarna charged on a return, and its reversal if one was made. */
  async returnFeeWaiverState(klarnaOrderId: string, returnId: string) {
    const refunds = this.refunds();
    const fee = await refunds.chargedReturnFee(klarnaOrderId, returnId);
    const row = await refunds.refundLedger.find(klarnaOrderId, `fee_waiver:${returnId}`);
    return { fee, waived: row && row.status === "succeeded" ? row : undefined };
  }

  /** What `return.metadata.klarna` shows: the refund's key, Klarna refund id, fee and its reversal. */
  async returnMetadata(returnId: string): Promise<Record<string, unknown> | undefined> {
    let rows = await this.refunds().refundLedger.listForResource(returnId);
    // The request that made the refund may still be recording it (its claim is released after).
    for (let i = 0; i < 50 && rows.some((r) => r.claimed_by); i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await this.refunds().refundLedger.listForResource(returnId);
    }
    const refund = rows.find((r) => r.intent === `return:${returnId}`);
    if (!refund) return undefined;
    const waiver = rows.find((r) => r.intent === `fee_waiver:${returnId}`);
    const fee = withheldFeeLine(refund.request as RefundRequest | null);
    return {
      klarna_order_id: refund.klarna_order_id,
      refund_id: refund.klarna_refund_id,
      idempotency_key: refund.idempotency_key,
      status: refund.status,
      amount: refund.amount,
      return_fee: fee ? { amount: -fee.total_amount, line_type: fee.type } : null,
      source: refund.source,
      return_fee_refund: waiver ? { refund_id: waiver.klarna_refund_id, idempotency_key: waiver.idempotency_key, status: waiver.status } : null,
    };
  }

  protected refunds(): KlarnaRefunds {
    if (!this.refunds_) {
      const project = this.cradle_.configModule?.projectConfig ?? {};
      const db = PluginDatabase.for(String(project.database_url), project.database_extra ?? {}, project.database_schema);
      const flags = this.cradle_.featureFlagRouter;
      const reader = new StoreReader(db, () => Boolean(flags?.isFeatureEnabled?.("tax_inclusive_pricing")));
      this.refunds_ = new KlarnaRefunds({
        db,
        reader,
        client: this.client_,
        options: this.options_,
        log: (m) => this.logger()?.warn?.(m),
      });
    }
    return this.refunds_;
  }

  // ---- admin panel (src/medusa/order-panel.ts) -------------------------------------------------
  // Kept apart from the refund code above: read-only access for GET /admin/klarna/orders/:order_id
  // and the panel's "check with Klarna" action. Types are imported inline to leave the imports alone.

  /**
   * The Klarna order as Klarna has it now (one GET /ordermanagement/v1/orders/{id}), or the reason it
   * could not be read, as the one error mapper words it (credentials redacted).
   */
  async readKlarnaOrder(
    klarnaOrderId: string,
  ): Promise<{ order: import("../klarna/types").Order; error?: undefined } | { order?: undefined; error: PaymentProcessorError }> {
    try {
      return { order: await this.client_.getOrder(klarnaOrderId) };
    } catch (e) {
      return { error: this.error("order lookup", e) };
    }
  }

  /** The refund ledger, for the panel's reads and for settling a row the panel checked with Klarna. */
  get refundLedger(): import("../medusa/ledger").RefundLedger {
    return this.refunds().refundLedger;
  }
}

function statusOfFraud(fraud: string): PaymentSessionStatus {
  if (fraud === "ACCEPTED") return PaymentSessionStatus.AUTHORIZED;
  if (fraud === "PENDING") return PaymentSessionStatus.PENDING;
  return PaymentSessionStatus.ERROR;
}

function requireOrderId(data: KlarnaPaymentData): string {
  if (typeof data.order_id !== "string" || !data.order_id) {
    throw new KlarnaApiError({ error_code: "NO_KLARNA_ORDER", error_messages: ["This payment has no Klarna order: it was never authorised with Klarna."] });
  }
  return data.order_id;
}

function ignoreNotFound(e: unknown): void {
  if (e instanceof KlarnaApiError && e.status === 404) return;
  throw e;
}

export default KlarnaPaymentProcessor;
