import { v4 as uuidv4 } from "uuid";
import type { KlarnaClient } from "../klarna/client";
import { KlarnaApiError } from "../klarna/errors";
import { taxOf } from "../klarna/order-lines";
import { planRefund, RefundPlanError, RefundPlanInput, RefundPlanItem, RETURN_FEE_REFERENCE, withheldFeeLine } from "../klarna/refund-plan";
import type { RefundRequest } from "../klarna/types";
import type { KlarnaRefund } from "../models/klarna-refund";
import { LedgerIntent, RefundLedger } from "./ledger";
import type { KlarnaPluginOptions } from "./options";
import { PluginDatabase } from "./plugin-db";
import { currentRefundScope, RefundContext, RequestScope } from "./refund-context";
import { OrderRow, StoreReader } from "./return-reader";

/** Klarna forgets an idempotency key after 24 hours; past this age a retry first looks at the order. */
const KEY_SAFE_AGE_MS = 23 * 3600_000;
/** How long a claim on a ledger row lasts if its holder dies without releasing it. */
const CLAIM_LEASE_MS = 120_000;
/** How long an attempt waits for another attempt of the same refund before giving up with a clear answer. */
const CLAIM_WAIT_MS = 30_000;

/** What the processor keeps in Medusa's payment data about the Klarna order. */
export interface KlarnaPaymentData {
  order_id?: string;
  cart_id?: string;
  purchase_country?: string;
  purchase_currency?: string;
  capture_count?: number;
  refunds?: Array<{ klarna_refund_id: string; amount: number; intent: string; idempotency_key: string }>;
  [key: string]: unknown;
}

export type RefundConflictCode = "ALREADY_REFUNDED" | "AMOUNT_MISMATCH" | "NO_KLARNA_ORDER" | "UNKNOWN_RETURN" | "NOTHING_TO_WAIVE" | "IN_PROGRESS";

/** A refund the plugin will not send, with the reason an admin can act on. */
export class RefundConflictError extends Error {
  constructor(
    readonly code: RefundConflictCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "RefundConflictError";
  }
}

interface PlanContext {
  captureCount: number;
  purchaseCountry: string;
  allowReturnFee: boolean;
}

interface ResolvedIntent extends LedgerIntent {
  amount: number;
  /** What to call it in a message: "return ret_…". */
  label: string;
  plan(ctx: PlanContext): RefundRequest;
  /** Whether Medusa has committed this refund already (to tell a duplicate from a retry after a rollback). */
  committed(): Promise<boolean>;
}

export interface RefundOutcome {
  row: KlarnaRefund;
  /** True when Klarna had already made this refund and nothing was sent now. */
  reused: boolean;
}

export class KlarnaRefunds {
  private readonly ledger: RefundLedger;
  /** Ledger writes still in flight, per row: a claim is released only after them. */
  private readonly pendingWrites = new Map<string, Promise<unknown>>();

  private recordLater(rowId: string, write: Promise<unknown>): void {
    const logged = write.catch((err) => this.deps.log?.(`klarna: could not record a refund's success in the ledger (row ${rowId}): ${err instanceof Error ? err.message : err}`));
    this.pendingWrites.set(rowId, logged);
  }

  constructor(
    private readonly deps: {
      db: PluginDatabase;
      reader: StoreReader;
      client: KlarnaClient;
      options: KlarnaPluginOptions;
      log?: (message: string) => void;
    },
  ) {
    this.ledger = new RefundLedger(deps.db);
  }

  get refundLedger(): RefundLedger {
    return this.ledger;
  }

  /** Refunds `amount` of the Klarna order in `data`, exactly once per intent. */
  async refund(data: KlarnaPaymentData, amount: number): Promise<RefundOutcome> {
    const klarnaOrderId = data.order_id;
    if (typeof klarnaOrderId !== "string" || !klarnaOrderId) {
      throw new RefundConflictError("NO_KLARNA_ORDER", "This payment has no Klarna order: it was never authorised with Klarna, so there is nothing to refund.");
    }
    const scope = currentRefundScope();
    const intent = await this.resolve(klarnaOrderId, data, amount, scope?.context);
    const planContext = await this.planContext(intent, data);
    // The happy path costs one statement before the call: the row is created with the request and
    // the key in the same statement that claims it. Anything else goes through underClaim.
    let firstRequest: RefundRequest | undefined;
    try {
      firstRequest = intent.plan(planContext);
    } catch {
      firstRequest = undefined; // recorded as a failure by send() below
    }
    const { row, token, created } = await this.claim(intent, scope, firstRequest);
    try {
      const outcome =
        created && firstRequest ? await this.call(row, intent, planContext, firstRequest) : await this.underClaim(row, intent, planContext, scope);
      scope?.refunds.push({ intent: intent.intent, klarna_refund_id: outcome.row.klarna_refund_id ?? undefined, idempotency_key: outcome.row.idempotency_key });
      return outcome;
    } finally {
      if (!scope) await this.ledger.release(row.id, token);
    }
  }

  /**
   * Claims the intent's ledger row. Inside an admin request the claim is kept until the request is
   * over, i.e. until Medusa's transaction has committed or rolled back: a concurrent attempt then sees
   * the final state, never a half-done one. It waits without holding a connection.
   */
  private async claim(intent: ResolvedIntent, scope: RequestScope | undefined, request?: RefundRequest): Promise<{ row: KlarnaRefund; token: string; created: boolean }> {
    const token = uuidv4();
    const until = Date.now() + CLAIM_WAIT_MS;
    let delay = 25;
    for (;;) {
      const claimed = await this.ledger.claim(intent, intent.amount, token, CLAIM_LEASE_MS, request);
      if (claimed) {
        const { row, created } = claimed;
        if (scope) {
          scope.onFinish.push(async () => {
            await this.pendingWrites.get(row.id)?.catch(() => undefined);
            this.pendingWrites.delete(row.id);
            await this.ledger.release(row.id, token);
          });
        }
        return { row, token, created };
      }
      if (Date.now() > until) {
        throw new RefundConflictError(
          "IN_PROGRESS",
          `Another request is refunding ${intent.label} at Klarna right now. Nothing was sent; try again in a minute.`,
          { intent: intent.intent },
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(250, delay * 2);
    }
  }

  private async underClaim(claimed: KlarnaRefund, intent: ResolvedIntent, planContext: PlanContext, scope?: RequestScope): Promise<RefundOutcome> {
    let row = claimed;

    if (row.status === "succeeded") return this.settled(row, intent, scope);

    const unknownOutcome = (row.status === "pending" || row.status === "unknown") && row.key_first_sent_at;
    if (unknownOutcome) {
      const age = Date.now() - new Date(row.key_first_sent_at as Date).getTime();
      if (row.amount !== intent.amount || age > KEY_SAFE_AGE_MS) {
        // Sending the old key again would replay (or, past 24 h, repeat) the old request: find out first.
        const found = await this.findAtKlarna(intent.klarna_order_id, row);
        if (found) {
          row = await this.ledger.update(row.id, {
            status: "succeeded",
            klarna_refund_id: found,
            notes: [...(row.notes ?? []), `Confirmed by reading the Klarna order: refund ${found} was made by an earlier attempt.`],
          });
          return this.settled(row, intent, scope);
        }
        row = await this.ledger.update(row.id, {
          idempotency_key: uuidv4(),
          key_first_sent_at: null,
          notes: [...(row.notes ?? []), "The earlier attempt is not on the Klarna order; a new idempotency key is used."],
        });
      }
    } else if (row.status === "failed") {
      // Klarna refused the earlier request outright, so it made no refund: a new key is safe (and needed
      // where Klarna replays refusals for a key).
      row = await this.ledger.update(row.id, { idempotency_key: uuidv4(), key_first_sent_at: null });
    }

    return this.send(row, intent, planContext);
  }

  /** Market and capture count, from payment data recorded at authorisation and capture (no Klarna call). */
  private async planContext(intent: ResolvedIntent, data: KlarnaPaymentData): Promise<PlanContext> {
    const ctx: PlanContext = {
      captureCount: typeof data.capture_count === "number" ? data.capture_count : 1,
      purchaseCountry: String(data.purchase_country ?? ""),
      allowReturnFee: true,
    };
    if (/^[A-Za-z]{2}$/.test(ctx.purchaseCountry)) return ctx;
    // Payment data from before the plugin recorded them (e.g. the old Klarna plugin): ask Klarna once.
    const order = await this.deps.client.getOrder(intent.klarna_order_id);
    return { ...ctx, purchaseCountry: order.purchase_country, captureCount: order.captures.length };
  }

  private async send(row: KlarnaRefund, intent: ResolvedIntent, planContext: PlanContext, notes: string[] = []): Promise<RefundOutcome> {
    let request: RefundRequest;
    try {
      request = intent.plan(planContext);
    } catch (err) {
      if (err instanceof RefundPlanError) {
        await this.ledger.update(row.id, { status: "failed", error: { code: err.code, field: err.field, message: err.message } });
      }
      throw err;
    }
    row = await this.ledger.update(row.id, {
      request: request as unknown as Record<string, unknown>,
      amount: intent.amount,
      status: "pending",
      attempts: row.attempts + 1,
      key_first_sent_at: row.key_first_sent_at ?? new Date(),
      error: null,
      notes: notes.length ? [...(row.notes ?? []), ...notes] : row.notes,
    });
    return this.call(row, intent, planContext, request);
  }

  /** The Klarna call itself, with the ledger row already holding the key and the request. */
  private async call(row: KlarnaRefund, intent: ResolvedIntent, planContext: PlanContext, request: RefundRequest): Promise<RefundOutcome> {
    try {
      const created = await this.deps.client.refundOrder(intent.klarna_order_id, request, { idempotencyKey: row.idempotency_key });
      const succeeded = { status: "succeeded" as const, klarna_refund_id: created.refundId, correlation_id: null };
      const scope = currentRefundScope();
      if (scope) {
        // Inside a request the success is recorded off the hot path: the claim is released only after
        // the write (see claim()). Should the write fail, the row keeps status pending with its key,
        // which any later attempt resolves safely by reusing the key.
        this.recordLater(row.id, this.ledger.update(row.id, succeeded));
        return { row: { ...row, ...succeeded }, reused: false };
      }
      row = await this.ledger.update(row.id, succeeded);
      return { row, reused: false };
    } catch (err) {
      if (!(err instanceof KlarnaApiError)) throw err;
      const error = { status: err.status, error_code: err.error_code, error_messages: err.error_messages, correlation_id: err.correlation_id };
      if (err.outcomeUnknown) {
        // Keep the key: the next attempt reuses it and Klarna registers the refund once.
        await this.ledger.update(row.id, { status: "unknown", error, correlation_id: err.correlation_id ?? null });
        throw err;
      }
      row = await this.ledger.update(row.id, { status: "failed", error, correlation_id: err.correlation_id ?? null });
      const hadFee = (request.order_lines ?? []).some((l) => l.type === "return_fee");
      if (hadFee && planContext.allowReturnFee && err.status === 403) {
        // Klarna still refused the fee: read the order once, apply the fallback, record why.
        const order = await this.deps.client.getOrder(intent.klarna_order_id);
        const refundable = order.captured_amount - order.refunded_amount;
        if (order.captures.length > 0 && refundable >= intent.amount) {
          const why = `Klarna refused the return fee (${err.error_code}: ${err.error_messages.join(" ")}; correlation ${err.correlation_id}). The order has ${order.captures.length} capture(s) in market ${order.purchase_country}; sent again with the "${this.deps.options.return_fee_fallback}" fallback.`;
          this.deps.log?.(`klarna: ${intent.label}: ${why}`);
          row = await this.ledger.update(row.id, { idempotency_key: uuidv4(), key_first_sent_at: null });
          return this.send(
            row,
            intent,
            { captureCount: order.captures.length, purchaseCountry: order.purchase_country, allowReturnFee: false },
            [why],
          );
        }
      }
      throw err;
    }
  }

  /** The intent's refund was already made at Klarna: reuse it, unless Medusa already recorded it. */
  private async settled(row: KlarnaRefund, intent: ResolvedIntent, scope?: RequestScope): Promise<RefundOutcome> {
    const detail = { klarna_refund_id: row.klarna_refund_id, idempotency_key: row.idempotency_key, ledger_id: row.id };
    if (row.amount !== intent.amount) {
      throw new RefundConflictError(
        "AMOUNT_MISMATCH",
        `Klarna already refunded ${row.amount} for ${intent.label} (Klarna refund ${row.klarna_refund_id}), but Medusa now asks for ${intent.amount}. Nothing was sent. Use a refund amount of ${row.amount}, or refund the difference separately.`,
        detail,
      );
    }
    if (await this.committedAfterWait(intent, scope)) {
      throw new RefundConflictError(
        "ALREADY_REFUNDED",
        `${capitalise(intent.label)} was already refunded through Klarna (Klarna refund ${row.klarna_refund_id}) by another request. Nothing was refunded again.`,
        detail,
      );
    }
    this.deps.log?.(`klarna: ${intent.label}: Klarna refund ${row.klarna_refund_id} was made by an earlier attempt that Medusa rolled back; reusing it, nothing sent.`);
    return { row, reused: true };
  }

  private async committedAfterWait(intent: ResolvedIntent, scope?: RequestScope): Promise<boolean> {
    if (await intent.committed()) return true;
    // Inside a request the lock was held until the other request ended, so its outcome is final.
    if (scope) return false;
    const until = Date.now() + this.deps.options.concurrent_wait_ms;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      if (await intent.committed()) return true;
    }
    return false;
  }

  private async findAtKlarna(klarnaOrderId: string, row: KlarnaRefund): Promise<string | undefined> {
    const reference = (row.request as RefundRequest | null)?.reference;
    if (!reference) return undefined;
    const order = await this.deps.client.getOrder(klarnaOrderId);
    return order.refunds.find((r) => r.reference === reference)?.refund_id;
  }

  // ---- which refund is this? -------------------------------------------------------------------

  private async resolve(klarnaOrderId: string, data: KlarnaPaymentData, amount: number, ctx?: RefundContext): Promise<ResolvedIntent> {
    const reader = this.deps.reader;
    switch (ctx?.kind) {
      case "return":
        return this.returnIntent(klarnaOrderId, ctx.return_id, amount, "request:receive-return", ctx.items);
      case "claim": {
        const claim = await reader.claimForRefund(ctx.order_id, amount);
        if (claim) return this.claimIntent(klarnaOrderId, ctx.order_id, claim.id, amount);
        return this.manualIntent(klarnaOrderId, ctx.order_id, amount, "unattributed", "request:claim-without-match");
      }
      case "swap":
        return this.swapIntent(klarnaOrderId, ctx.order_id, ctx.swap_id, amount);
      case "order_refund":
        return this.manualIntent(klarnaOrderId, ctx.order_id, amount, "order_refund", "request:order-refund", ctx.note);
      case "payment_refund": {
        const orderId = await reader.paymentOrderId(ctx.payment_id);
        if (!orderId) throw new RefundConflictError("NO_KLARNA_ORDER", `Payment ${ctx.payment_id} belongs to no order.`);
        return this.manualIntent(klarnaOrderId, orderId, amount, "payment_refund", "request:payment-refund", ctx.note);
      }
      case "fee_waiver":
        return this.feeWaiverIntent(klarnaOrderId, ctx.return_id, amount);
      default: {
        // No request context (a refund started by code): a requested return of this amount, else amount only.
        const order = data.cart_id ? await reader.orderByCart(String(data.cart_id)) : undefined;
        if (!order) throw new RefundConflictError("NO_KLARNA_ORDER", `No Medusa order was found for Klarna order ${klarnaOrderId}.`);
        const candidates = (await reader.requestedReturns(order.id)).filter((r) => Number(r.refund_amount) === amount);
        if (candidates.length === 1) {
          return this.returnIntent(klarnaOrderId, candidates[0].id, amount, "fallback:requested-return-with-this-amount");
        }
        return this.manualIntent(klarnaOrderId, order.id, amount, "unattributed", "fallback:amount-only");
      }
    }
  }

  /** The plan of a refund with item lines (a return, a claim), given the market and captures at send time. */
  private itemsPlan(
    order: OrderRow,
    amount: number,
    items: RefundPlanItem[],
    extra: { reference: string; description: string; returnShipping?: RefundPlanInput["returnShipping"]; chargesNoFee?: boolean },
  ): ResolvedIntent["plan"] {
    return (ctx) =>
      planRefund({
        refundAmount: amount,
        currency: order.currency_code,
        purchaseCountry: ctx.purchaseCountry,
        captureCount: ctx.captureCount,
        items,
        returnShipping: extra.returnShipping,
        reference: extra.reference,
        description: extra.description,
        options: {
          returnFeeMarkets: this.deps.options.return_fee_markets,
          returnFeeFallback: extra.chargesNoFee ? "discount_line" : this.deps.options.return_fee_fallback,
          allowReturnFee: ctx.allowReturnFee && !extra.chargesNoFee,
        },
      });
  }

  private async returnIntent(
    klarnaOrderId: string,
    returnId: string,
    amount: number,
    source: string,
    received?: Array<{ item_id: string; quantity: number }>,
  ): Promise<ResolvedIntent> {
    const reader = this.deps.reader;
    const quantities = received && received.length ? new Map(received.map((i) => [i.item_id, i.quantity])) : undefined;
    const [view, lines] = await Promise.all([reader.returnView(returnId), reader.returnLines(returnId, quantities ? [...quantities.keys()] : undefined)]);
    if (!view) throw new RefundConflictError("UNKNOWN_RETURN", `Return ${returnId} does not exist.`);
    const order = view.order;
    if (!order) throw new RefundConflictError("UNKNOWN_RETURN", "The return belongs to no order.");
    const items = reader.planItems(order, lines, quantities);
    const returnShipping = reader.shippingCharge(view.shipping);
    return {
      klarna_order_id: klarnaOrderId,
      intent: `return:${returnId}`,
      kind: "return",
      resource_id: returnId,
      order_id: order.id,
      source,
      currency_code: order.currency_code,
      amount,
      label: `return ${returnId}`,
      plan: this.itemsPlan(order, amount, items, {
        returnShipping,
        reference: returnId,
        description: `Refund for your return from order #${order.display_id ?? order.id}`,
      }),
      committed: async () => {
        const status = await reader.returnStatus(returnId);
        return status === "received" || status === "requires_action";
      },
    };
  }

  private async claimIntent(klarnaOrderId: string, orderId: string, claimId: string, amount: number): Promise<ResolvedIntent> {
    const reader = this.deps.reader;
    const order = await reader.order(orderId);
    if (!order) throw new RefundConflictError("UNKNOWN_RETURN", `Order ${orderId} does not exist.`);
    const items: RefundPlanItem[] = reader.planItems(order, await reader.claimLines(claimId));
    return {
      klarna_order_id: klarnaOrderId,
      intent: `claim:${claimId}`,
      kind: "claim",
      resource_id: claimId,
      order_id: orderId,
      source: "request:claim",
      currency_code: order.currency_code,
      amount,
      label: `claim ${claimId}`,
      // A claim charges no return fee: anything withheld is a discount line.
      plan: this.itemsPlan(order, amount, items, {
        reference: claimId,
        description: `Refund for your claim on order #${order.display_id ?? order.id}`,
        chargesNoFee: true,
      }),
      committed: async () => (await reader.claimPaymentStatus(claimId)) === "refunded",
    };
  }

  private async swapIntent(klarnaOrderId: string, orderId: string, swapId: string, amount: number): Promise<ResolvedIntent> {
    const reader = this.deps.reader;
    const order = await reader.order(orderId);
    return {
      klarna_order_id: klarnaOrderId,
      intent: `swap:${swapId}`,
      kind: "swap",
      resource_id: swapId,
      order_id: orderId,
      source: "request:swap-process-payment",
      currency_code: order?.currency_code ?? null,
      amount,
      label: `exchange ${swapId}`,
      plan: () => ({
        refunded_amount: amount,
        reference: swapId,
        description: `Refund of the price difference of your exchange for order #${order?.display_id ?? orderId}`,
      }),
      committed: async () => (await reader.swapPaymentStatus(swapId)) === "difference_refunded",
    };
  }

  private async manualIntent(
    klarnaOrderId: string,
    orderId: string,
    amount: number,
    kind: "order_refund" | "payment_refund" | "unattributed",
    source: string,
    note?: string,
  ): Promise<ResolvedIntent> {
    const reader = this.deps.reader;
    const order = await reader.order(orderId);
    // The n-th refund of the order: a retry after a rollback sees the same n (Medusa recorded nothing),
    // a deliberate second refund sees n + 1.
    const n = (await reader.refundCount(orderId)) + 1;
    const reference = `${orderId}/refund-${n}`;
    return {
      klarna_order_id: klarnaOrderId,
      intent: `refund:${orderId}:${n}`,
      kind,
      resource_id: orderId,
      order_id: orderId,
      source,
      currency_code: order?.currency_code ?? null,
      amount,
      label: `refund ${n} of order ${orderId}`,
      plan: () => ({
        refunded_amount: amount,
        reference,
        description: (note || `Refund for order #${order?.display_id ?? orderId}`).slice(0, 255),
      }),
      committed: async () => (await reader.refundCount(orderId)) >= n,
    };
  }

  private async feeWaiverIntent(klarnaOrderId: string, returnId: string, amount: number): Promise<ResolvedIntent> {
    const fee = await this.chargedReturnFee(klarnaOrderId, returnId);
    if (!fee) throw new RefundConflictError("NOTHING_TO_WAIVE", `No Klarna return fee was charged for return ${returnId}.`);
    if (fee.amount !== amount) {
      throw new RefundConflictError("AMOUNT_MISMATCH", `The return fee charged for return ${returnId} was ${fee.amount}, not ${amount}.`);
    }
    const reader = this.deps.reader;
    const ret = await reader.returnRow(returnId);
    const orderId = ret?.order_id ?? null;
    const countBefore = orderId ? await reader.refundCount(orderId) : 0;
    return {
      klarna_order_id: klarnaOrderId,
      intent: `fee_waiver:${returnId}`,
      kind: "fee_waiver",
      resource_id: returnId,
      order_id: orderId,
      source: "request:waive-return-fee",
      currency_code: null,
      amount,
      label: `the return fee of return ${returnId}`,
      // Klarna: "send a new refund including the amount previously charged as a return fee". A positive
      // return_fee line is the natural reading; where Klarna refuses it, the amount alone.
      plan: (ctx) =>
        ctx.allowReturnFee
          ? {
              refunded_amount: amount,
              reference: `${returnId}/return-fee-refund`,
              description: "Return fee refunded",
              order_lines: [
                {
                  name: fee.name,
                  type: "return_fee",
                  reference: RETURN_FEE_REFERENCE,
                  quantity: 1,
                  unit_price: amount,
                  tax_rate: fee.taxRate,
                  total_amount: amount,
                  total_tax_amount: taxOf(amount, fee.taxRate),
                },
              ],
            }
          : { refunded_amount: amount, reference: `${returnId}/return-fee-refund`, description: "Return fee refunded" },
      committed: async () => (orderId ? (await reader.refundCount(orderId)) > countBefore : false),
    };
  }

  /** The return fee Klarna charged on a return's refund, from the ledger; undefined when none. */
  async chargedReturnFee(klarnaOrderId: string, returnId: string): Promise<{ amount: number; name: string; taxRate: number } | undefined> {
    const row = await this.ledger.find(klarnaOrderId, `return:${returnId}`);
    if (!row || row.status !== "succeeded") return undefined;
    const line = withheldFeeLine(row.request as RefundRequest | null);
    return line?.type === "return_fee" ? { amount: -line.total_amount, name: line.name, taxRate: line.tax_rate ?? 0 } : undefined;
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
