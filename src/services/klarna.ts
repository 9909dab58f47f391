import {
  AbstractPaymentProcessor,
  PaymentProcessorContext,
  PaymentProcessorError,
  PaymentProcessorSessionResponse,
  PaymentSessionStatus,
} from "@medusajs/medusa";
import { KlarnaClient } from "../klarna/client";
import { withheldFeeLine } from "../klarna/refund-plan";
import type { FraudStatus, Order, RefundRequest } from "../klarna/types";
import type { CartLike } from "../medusa/cart-lines";
import type { KlarnaPaymentData } from "../medusa/exactly-once";
import { PROVIDER_ID } from "../medusa/identifiers";
import { ignoreNotFound } from "../medusa/order-management";
import { parseOptions, KlarnaPluginOptions } from "../medusa/options";
import { KlarnaPaymentError, KlarnaPluginRefusal, paymentError, PaymentAction, redact } from "../medusa/payment-error";
import { KlarnaPlugin } from "../medusa/plugin";
import { currentRequestScope } from "../medusa/request-context";

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
 * return-aware refunds. Registered by Medusa as `pp_klarna`. Thin: each method is one call into
 * src/medusa and answers failures through the one error mapper.
 */
class KlarnaPaymentProcessor extends AbstractPaymentProcessor {
  static identifier = PROVIDER_ID;

  protected readonly options_: KlarnaPluginOptions;
  protected readonly client_: KlarnaClient;
  protected readonly cradle_: Cradle;
  private plugin_?: KlarnaPlugin;

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
      logger: { warn: (m) => this.logger()?.warn?.(m) },
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

  /** The plugin's parts (database pool, ledger, executor, reconciler), made on first use. */
  plugin(): KlarnaPlugin {
    if (!this.plugin_) {
      const project = this.cradle_.configModule?.projectConfig ?? {};
      const flags = this.cradle_.featureFlagRouter;
      this.plugin_ = new KlarnaPlugin(
        this.client_,
        this.options_,
        { url: String(project.database_url), extra: project.database_extra ?? {}, schema: project.database_schema },
        () => Boolean(flags?.isFeatureEnabled?.("tax_inclusive_pricing")),
        (m) => this.warn(m),
        this.cradle_,
      );
    }
    return this.plugin_;
  }

  protected error(action: PaymentAction, err: unknown): PaymentProcessorError {
    const out = this.describeError(action, err);
    currentRequestScope()?.failures.push(out);
    return out;
  }

  /**
   * A failure in the words of the one error mapper (credentials redacted), logged once, after `what`
   * when given (what did not happen): for the plugin's routes, subscribers and jobs.
   */
  describeError(action: PaymentAction, err: unknown, what?: string): KlarnaPaymentError {
    const out = paymentError(action, err, [this.options_.password]);
    this.warn(`klarna: ${what ? `${what}: ` : ""}${out.error} (${out.detail})`);
    return out;
  }

  /** Logs a warning with any credential removed. */
  warn(message: string): void {
    this.logger()?.warn?.(redact(message, [this.options_.password]));
  }

  // ---- checkout (Klarna Payments) ----------------------------------------------------------------

  private async loadCart(cartId: string): Promise<CartLike & { total: number }> {
    return this.cradle_.cartService.retrieveWithTotals(cartId, { relations: CART_RELATIONS });
  }

  async initiatePayment(context: PaymentProcessorContext): Promise<PaymentProcessorError | PaymentProcessorSessionResponse> {
    try {
      const cart = await this.loadCart(context.resource_id);
      return { session_data: await this.plugin().checkout.createSession(cart, context.amount) };
    } catch (e) {
      return this.error("payment session", e);
    }
  }

  async updatePayment(context: PaymentProcessorContext): Promise<PaymentProcessorError | PaymentProcessorSessionResponse | void> {
    const data = (context.paymentSessionData ?? {}) as KlarnaPaymentData & Data;
    if (data.order_id) return; // the Klarna order is placed; the session is closed
    try {
      const cart = await this.loadCart(context.resource_id);
      return { session_data: await this.plugin().checkout.updateSession(cart, context.amount, data) };
    } catch (e) {
      return this.error("payment session", e);
    }
  }

  /** The storefront stores what Klarna's widget gave it: `{ authorization_token }`. */
  async updatePaymentData(_sessionId: string, data: Data): Promise<PaymentProcessorError | Data> {
    const token = data?.authorization_token;
    if (token !== undefined && (typeof token !== "string" || !token)) {
      return this.error(
        "purchase",
        new KlarnaPluginRefusal(
          "INVALID_AUTHORIZATION_TOKEN",
          "authorization_token must be the non-empty string Klarna's widget returned.",
          {},
          "The Klarna payment could not be read. Please choose Klarna again",
        ),
      );
    }
    return token ? { authorization_token: token } : {};
  }

  async authorizePayment(paymentSessionData: Data, context: Data): Promise<PaymentProcessorError | { status: PaymentSessionStatus; data: Data }> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    try {
      if (data.order_id) {
        if (data.fraud_status === "ACCEPTED") return { status: PaymentSessionStatus.AUTHORIZED, data };
        // Placed while Klarna's fraud review was PENDING: completing the cart again asks Klarna again.
        const order = await this.client_.getOrder(String(data.order_id));
        if (order.fraud_status === "REJECTED") {
          throw new KlarnaPluginRefusal(
            "FRAUD_REJECTED",
            `Klarna rejected the purchase after its fraud review, Klarna order ${order.order_id}.`,
            {},
            "Klarna could not approve this purchase. Please choose another payment method",
          );
        }
        return {
          status: statusOfFraud(order.fraud_status),
          data: { ...data, fraud_status: order.fraud_status, expires_at: order.expires_at, klarna_read_at: new Date().toISOString() },
        };
      }
      const token = data.authorization_token;
      if (typeof token !== "string" || !token) return { status: PaymentSessionStatus.REQUIRES_MORE, data };
      const cart = await this.loadCart(String(context?.cart_id || data.cart_id));
      const placed = await this.plugin().checkout.placeOrder(cart, data, token);
      return { status: statusOfFraud(placed.fraudStatus), data: placed.data };
    } catch (e) {
      return this.error("purchase", e);
    }
  }

  // ---- after the order (Order Management) ------------------------------------------------------

  async capturePayment(paymentSessionData: Data): Promise<PaymentProcessorError | Data> {
    try {
      return await this.plugin().orders.capture(paymentSessionData as KlarnaPaymentData & Data);
    } catch (e) {
      return this.error("capture", e);
    }
  }

  async refundPayment(paymentSessionData: Data, refundAmount: number): Promise<PaymentProcessorError | Data> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    try {
      const { row, committed } = await this.plugin().refunds.refund(data, refundAmount);
      // Medusa saves what this returns over the payment's data. `data` was read before this refund
      // waited for the Klarna order's lease, so a refund committed meanwhile may be missing from it:
      // start from the committed entries (read under the lease), then add this one. The entries say
      // which refunds Medusa recorded (StoreQueries.medusaRecordedRefunds).
      const refunds = [...committed];
      for (const r of Array.isArray(data.refunds) ? data.refunds : []) if (!refunds.some((c) => c.intent === r.intent)) refunds.push(r);
      if (!refunds.some((r) => r.intent === row.intent)) {
        refunds.push({
          klarna_refund_id: String(row.klarna_refund_id),
          amount: row.amount,
          intent: row.intent,
          idempotency_key: row.idempotency_key,
        });
      }
      return { ...data, refunds };
    } catch (e) {
      return this.error("refund", e);
    }
  }

  async cancelPayment(paymentSessionData: Data): Promise<PaymentProcessorError | Data> {
    try {
      return await this.plugin().orders.cancel(paymentSessionData as KlarnaPaymentData & Data);
    } catch (e) {
      return this.error("cancellation", e);
    }
  }

  /**
   * Called when the shopper switches to another provider or the session is refreshed. Releasing an
   * unused authorisation is a courtesy (it lapses anyway): a Klarna outage must not stop the shopper
   * from paying another way.
   */
  async deletePayment(paymentSessionData: Data): Promise<PaymentProcessorError | Data> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    if (!data.order_id && typeof data.authorization_token === "string") {
      await this.client_
        .cancelAuthorization(data.authorization_token)
        .catch(ignoreNotFound)
        .catch((e) => {
          this.logger()?.warn?.(
            `klarna: could not release an unused Klarna authorisation (it lapses on its own): ${e instanceof Error ? e.message : e}`,
          );
        });
    }
    return data;
  }

  /**
   * Medusa stores what this returns as the payment's data (PaymentProviderService.createPayment, its
   * only caller, right after authorizePayment), so it returns the data with the Klarna order's current
   * fraud status, not a snapshot of amounts that go stale. When authorizePayment has just read the
   * order (placing it, or asking again after a review), that read is current and Klarna is not asked again.
   */
  async retrievePayment(paymentSessionData: Data): Promise<PaymentProcessorError | Data> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    try {
      if (!data.order_id || readJustNow(data)) return data;
      const o = await this.client_.getOrder(String(data.order_id));
      return { ...data, fraud_status: o.fraud_status };
    } catch (e) {
      return this.error("order lookup", e);
    }
  }

  /** Medusa asks while it turns the cart into an order (OrderService.createFromCart), right after authorizePayment read the order. */
  async getPaymentStatus(paymentSessionData: Data): Promise<PaymentSessionStatus> {
    const data = paymentSessionData as KlarnaPaymentData & Data;
    if (!data.order_id) return data.authorization_token ? PaymentSessionStatus.PENDING : PaymentSessionStatus.REQUIRES_MORE;
    if (readJustNow(data)) return statusOfFraud(String(data.fraud_status));
    try {
      const o = await this.client_.getOrder(String(data.order_id));
      if (o.status === "CANCELLED" || o.status === "EXPIRED" || o.status === "CLOSED") return PaymentSessionStatus.CANCELED;
      return statusOfFraud(o.fraud_status);
    } catch {
      return PaymentSessionStatus.ERROR;
    }
  }

  // ---- what admins see -------------------------------------------------------------------------

  /** The return fee Klarna charged on a return, and its reversal if one was made. */
  async returnFeeWaiverState(klarnaOrderId: string, returnId: string) {
    const plugin = this.plugin();
    const fee = await plugin.intents.chargedReturnFee(klarnaOrderId, returnId);
    const row = await plugin.ledger.find(klarnaOrderId, `fee_waiver:${returnId}`);
    return { fee, waived: row && row.status === "succeeded" && row.medusa_state !== "not_recorded" ? row : undefined };
  }

  /** What `return.metadata.klarna` shows: the refund's key, Klarna refund id, fee and its reversal. */
  async returnMetadata(returnId: string): Promise<Record<string, unknown> | undefined> {
    const ledger = this.plugin().ledger;
    let rows = await ledger.listForResource(returnId);
    // The request that made the refund may still be recording it (with its lease's release).
    for (let i = 0; i < 50 && rows.some((r) => r.medusa_state === null && (r.status === "succeeded" || r.status === "pending")); i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await ledger.listForResource(returnId);
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

  /**
   * The Klarna order as Klarna has it now (one GET /ordermanagement/v1/orders/{id}), or the reason it
   * could not be read, as the one error mapper words it (credentials redacted): for the admin panel.
   */
  async readKlarnaOrder(klarnaOrderId: string): Promise<{ order: Order; error?: undefined } | { order?: undefined; error: PaymentProcessorError }> {
    try {
      return { order: await this.client_.getOrder(klarnaOrderId) };
    } catch (e) {
      return { error: this.error("order lookup", e) };
    }
  }
}

/**
 * The Klarna order's state in the data was read within the last minute (`klarna_read_at`): a cart's
 * completion reads the order once when it places or re-checks it, and Medusa's calls that follow in
 * the same completion (retrievePayment, getPaymentStatus) use that read.
 */
const FRESH_READ_MS = 60_000;
function readJustNow(data: Data): boolean {
  const at = typeof data.klarna_read_at === "string" ? Date.parse(data.klarna_read_at) : NaN;
  return typeof data.fraud_status === "string" && Number.isFinite(at) && Date.now() - at < FRESH_READ_MS && Date.now() >= at;
}

function statusOfFraud(fraud: FraudStatus | string): PaymentSessionStatus {
  if (fraud === "ACCEPTED") return PaymentSessionStatus.AUTHORIZED;
  if (fraud === "PENDING") return PaymentSessionStatus.PENDING;
  return PaymentSessionStatus.ERROR;
}

export default KlarnaPaymentProcessor;
