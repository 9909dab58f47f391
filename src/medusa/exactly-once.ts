import type { KlarnaClient } from "../klarna/client";
import { KlarnaApiError } from "../klarna/errors";
import { formatMoney } from "../klarna/money";
import { RefundPlanError } from "../klarna/refund-plan";
import type { Order, RefundRequest } from "../klarna/types";
import { LedgerIntent, LedgerRow, RefundLedger, rowView } from "./ledger";
import type { KlarnaPluginOptions } from "./options";
import { HeldLease, OrderLeases } from "./order-lease";
import { KlarnaPluginRefusal, RefundOutcomeUnknown } from "./payment-error";
import {
  decide,
  decideEarlier,
  decideRetry,
  Decision,
  DecisionPolicy,
  EarlierContext,
  EarlierDecision,
  inFlightGraceFor,
  Observation,
  RetryDecision,
} from "./refund-decision";
import { currentRequestScope, RequestScope, ScopeOutcome } from "./request-context";
import { Identity, PlanContext, RefundIntents, ResolvedIntent } from "./refund-intents";
import type { MedusaRecordedRefund, StoreQueries } from "./store-queries";

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

export interface RefundOutcome {
  /** The refund's ledger entry, as Klarna made it (made now, or earlier and reused). */
  row: LedgerRow;
  /** The refunds Medusa had committed on the Klarna order, read under its lease (payment data entries). */
  committed: MedusaRecordedRefund[];
}

/**
 * How a refund is sent exactly once. Per Klarna order, under its lease (order-lease.ts):
 * 1. every earlier attempt on the order whose outcome is not settled is settled against Klarna's
 *    order and Medusa's rows, then adopted, or the new refund is refused naming it;
 * 2. the refund's own ledger entry decides: send (keeping or replacing the key), look at Klarna's
 *    order, reuse a refund Klarna made, or refuse.
 * Every step is `decide()`/`decideEarlier()` (refund-decision.ts); nothing here rotates a key by itself.
 * The happy path costs one Klarna call and two statements before it: the lease (which reads the
 * order's ledger) and the entry with its key.
 */
export class RefundExecutor {
  /**
   * Refunds Klarna made inside a request, per request scope: recorded with the lease's release when
   * the request ends (one statement, with what Medusa did), not on the hot path.
   */
  private readonly made = new WeakMap<RequestScope, Map<string, string>>();
  private readonly policy: DecisionPolicy;

  constructor(
    private readonly deps: {
      ledger: RefundLedger;
      leases: OrderLeases;
      intents: RefundIntents;
      queries: StoreQueries;
      client: KlarnaClient;
      options: KlarnaPluginOptions;
      log?: (message: string) => void;
      /** Called after a refund ended with an unknown outcome (the reconciler looks again later). */
      onUnknownOutcome?: (klarnaOrderId: string) => void;
    },
  ) {
    this.policy = { inFlightGraceS: inFlightGraceFor(deps.options.timeout_ms, deps.options.retries) };
  }

  /** Refunds `amount` of the Klarna order in `data`, exactly once per intent and per Klarna order. */
  async refund(data: KlarnaPaymentData, amount: number): Promise<RefundOutcome> {
    const klarnaOrderId = data.order_id;
    if (typeof klarnaOrderId !== "string" || !klarnaOrderId) {
      throw new KlarnaPluginRefusal(
        "NO_KLARNA_ORDER",
        "This payment has no Klarna order: it was never authorised with Klarna, so there is nothing to refund.",
      );
    }
    const scope = currentRequestScope();
    const intent = await this.deps.intents.resolve(
      klarnaOrderId,
      typeof data.cart_id === "string" ? data.cart_id : undefined,
      amount,
      scope?.context,
    );
    const planContext = await this.planContext(klarnaOrderId, data);
    const lease = await this.acquire(klarnaOrderId, intent, scope);
    // What Medusa has committed on this order: every earlier holder of the lease committed or rolled
    // back before letting go, so it is read now, while the refund goes on.
    const committed = this.deps.queries.medusaRecordedRefunds(klarnaOrderId, {
      cartId: typeof data.cart_id === "string" ? data.cart_id : undefined,
    });
    committed.catch(() => undefined); // awaited below; a refund that throws first must not leave it unhandled
    try {
      const { row } = await this.refundUnderLease(lease, intent, planContext, scope);
      return { row, committed: await committed };
    } finally {
      if (!scope) await this.finish(lease, undefined);
    }
  }

  private async refundUnderLease(
    lease: HeldLease,
    intent: ResolvedIntent,
    planContext: PlanContext,
    scope?: RequestScope,
  ): Promise<{ row: LedgerRow }> {
    let id = intent.identify(lease.rows, lease.manualMax);
    if (intent.adopts) return await this.adoptKlarnaRefund(lease, intent, id, scope);
    let own = lease.rows.find((r) => r.intent === id.intent) ?? null;
    // An earlier attempt of this intent that Medusa committed after all is done: a manual refund of
    // the same amount then is the order's next one; anything else is refused as a duplicate.
    for (let i = 0; i <= lease.rows.length; i++) {
      const settled = await this.settleRetry(lease, id, own, scope);
      if (settled === own) break;
      own = settled;
      const next = intent.identify(lease.rows, lease.manualMax);
      if (next.intent === id.intent) break;
      id = next;
      own = lease.rows.find((r) => r.intent === id.intent) ?? null;
    }
    // A refund Klarna already made for this intent moves no money: nothing earlier needs settling.
    if (own?.status !== "succeeded") {
      const adopted = await this.settleEarlier(lease, intent, id, own, scope);
      if (adopted) return adopted;
    }
    return await this.run(lease, intent, id, own, planContext, scope);
  }

  /** Takes the order's lease; inside a request it is released when the request ends (finish). */
  private async acquire(klarnaOrderId: string, intent: ResolvedIntent, scope?: RequestScope): Promise<HeldLease> {
    const had = scope?.leases.has(klarnaOrderId);
    const purpose = `a refund of ${formatMoney(intent.amount, intent.currency_code)}`;
    const lease = await this.deps.leases.acquire(klarnaOrderId, intent.order_id, purpose, scope, undefined, intent.identify([], 0).intent);
    if (scope && !had) scope.onFinish.push((outcome) => this.finish(lease, scope, outcome));
    return lease;
  }

  /**
   * When the request is over: records what Klarna made and whether Medusa committed it (read from the
   * payment data in the same statement), then releases the lease. Outside a request the caller's
   * transaction is still open: the outcome stays unset and the next attempt reads the payment data.
   */
  async finish(lease: HeldLease, scope: RequestScope | undefined, outcome?: ScopeOutcome): Promise<void> {
    if (!scope || !outcome) return lease.release();
    await lease.release({ committed: outcome.committed, entries: [...scope.entries], made: this.made.get(scope) ?? new Map() });
  }

  /** Market and capture count, from payment data recorded at authorisation and capture (no Klarna call). */
  private async planContext(klarnaOrderId: string, data: KlarnaPaymentData): Promise<PlanContext> {
    const ctx: PlanContext = {
      captureCount: typeof data.capture_count === "number" ? data.capture_count : 1,
      purchaseCountry: String(data.purchase_country ?? ""),
      allowReturnFee: true,
    };
    if (/^[A-Za-z]{2}$/.test(ctx.purchaseCountry)) return ctx;
    // Payment data from before the plugin recorded them (e.g. the old Klarna plugin): ask Klarna once.
    const order = await this.deps.client.getOrder(klarnaOrderId);
    return { ...ctx, purchaseCountry: order.purchase_country, captureCount: order.captures.length };
  }

  /**
   * The intent's own earlier attempt, before it is retried: Medusa's rows say whether Medusa committed
   * it although the ledger does not (a refund started by code, a request whose end could not be
   * written); Klarna's order says what it made (decideRetry). Outside a request, another attempt may
   * still be committing: wait for it up to `concurrent_wait_ms`. Returns the row as settled (the same
   * object when nothing changed), updated in `lease.rows` too.
   */
  private async settleRetry(lease: HeldLease, id: Identity, own: LedgerRow | null, scope?: RequestScope): Promise<LedgerRow | null> {
    if (!own || scope?.entries.has(own.id)) return own;
    // A refund made without a request (started by code) is written before Medusa commits it: its
    // transaction may still be committing, inside a request or not. Wait for it up to concurrent_wait_ms.
    const until = Date.now() + this.deps.options.concurrent_wait_ms;
    let row = own;
    let ctx: EarlierContext | null = null;
    let observation: Parameters<typeof decideRetry>[2] = { kind: "start" };
    for (let step = 0; step < 8;) {
      const d: RetryDecision = decideRetry(rowView(row)!, ctx, observation);
      if (d.do === "retry") {
        // Made by a request that may still be committing: ask Medusa again in a moment.
        if (ctx && row.status === "succeeded" && row.medusa_state === null && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 100));
          ctx = null;
          continue;
        }
        break;
      }
      if (d.do !== "read_medusa") step++;
      if (d.do === "read_medusa") {
        ctx = await this.deps.intents.earlierContext(row);
      } else if (d.do === "mark_recorded") {
        row = await this.deps.ledger.update(row.id, { medusa_state: "recorded" }, "Medusa had recorded it (read from Medusa's rows).");
        break;
      } else if (d.do === "look") {
        const o = await this.deps.client.getOrder(lease.klarnaOrderId).catch(() => null);
        observation = o ? { kind: "order", refund: refundOnOrder(o, row.reference) } : { kind: "order_unavailable" };
      } else if (d.do === "mark_made") {
        row = await this.markMade(row, d.refundId);
        observation = { kind: "start" };
      } else {
        throw this.retryRefusal(d.reason, row, id);
      }
    }
    if (row !== own) lease.rows = lease.rows.map((r) => (r.id === row.id ? row : r));
    return row;
  }

  private retryRefusal(reason: Extract<RetryDecision, { do: "refuse" }>["reason"], row: LedgerRow, id: Identity): KlarnaPluginRefusal {
    const refs = { idempotency_key: row.idempotency_key, ledger_id: row.id };
    const money = formatMoney(row.amount, row.currency_code);
    if (reason === "order_unavailable") {
      return new KlarnaPluginRefusal(
        "KLARNA_UNAVAILABLE",
        `Medusa records an earlier refund of ${money} for ${id.label} whose outcome at Klarna the plugin never got, and Klarna's order could not be read to settle it. Nothing was sent. Retry when Klarna answers again.`,
        refs,
      );
    }
    return new KlarnaPluginRefusal(
      "REFUND_NOT_AT_KLARNA",
      `Medusa records an earlier refund of ${money} for ${id.label}, but Klarna's order shows no refund with its reference ${row.reference}. Nothing was sent. Compare the order's Klarna panel (agreement) with Klarna's portal before refunding again.`,
      refs,
    );
  }

  // ---- earlier attempts on the same Klarna order -------------------------------------------------

  private async settleEarlier(
    lease: HeldLease,
    intent: ResolvedIntent,
    id: Identity,
    own: LedgerRow | null,
    scope?: RequestScope,
  ): Promise<{ row: LedgerRow } | undefined> {
    const { ledger, intents } = this.deps;
    let order: Order | null | undefined; // undefined: not read yet; null: Klarna could not be read
    const readOrder = async () => {
      if (order === undefined) order = await this.deps.client.getOrder(lease.klarnaOrderId).catch(() => null);
      return order;
    };
    let adoptable: LedgerRow | undefined;
    for (const earlier of lease.rows) {
      if (earlier.intent === id.intent || scope?.entries.has(earlier.id)) continue;
      const adopter = earlier.adopted_by ? lease.rows.find((r) => r.id === earlier.adopted_by) : undefined;
      if (adopter && adopter.medusa_state !== "not_recorded") continue;
      let row = earlier;
      let ctx: EarlierContext | null = null;
      let observation: Parameters<typeof decideEarlier>[3] = { kind: "start" };
      for (let step = 0; step < 8; step++) {
        const d: EarlierDecision = decideEarlier(rowView(row)!, { amount: intent.amount }, ctx, observation, this.policy);
        if (d.do === "ignore") break;
        if (d.do === "read_medusa") {
          ctx = await intents.earlierContext(row);
          continue;
        }
        if (d.do === "mark_recorded") {
          row = await ledger.update(row.id, { medusa_state: "recorded" }, "Medusa had recorded it (found when settling the Klarna order).");
          break;
        }
        if (d.do === "look") {
          const o = await readOrder();
          observation = o ? { kind: "order", refund: refundOnOrder(o, row.reference) } : { kind: "order_unavailable" };
          continue;
        }
        if (d.do === "mark_not_made") {
          row = await ledger.update(
            row.id,
            { status: "failed" },
            "Klarna's order shows no refund with this entry's reference: its key made nothing.",
          );
          break;
        }
        if (d.do === "mark_made") {
          row = await this.markMade(row, d.refundId);
          observation = { kind: "start" };
          continue;
        }
        if (d.do === "adopt") {
          adoptable ??= row;
          break;
        }
        throw this.earlierRefusal(d, row, ctx, intent);
      }
    }
    // Adopt only for an intent whose own key made nothing yet: one that may have refunded is retried
    // with its key instead (the earlier refund stays reported until it is recorded).
    const ownMayHaveRefunded = own !== null && own.status !== "failed" && (own.status !== "pending" || own.key_first_sent_at !== null);
    if (!adoptable || ownMayHaveRefunded) return undefined;
    const label = earlierLabel(adoptable);
    let row = await ledger.upsertSettled(ledgerIntent(intent, id), intent.amount, id.reference, String(adoptable.klarna_refund_id), [
      `adopted Klarna refund ${adoptable.klarna_refund_id}, made for ${label} (${formatMoney(adoptable.amount, adoptable.currency_code)}) and never recorded by Medusa; nothing was sent.`,
    ]);
    if (adoptable.request && !row.request) row = await ledger.update(row.id, { request: adoptable.request });
    await ledger.update(adoptable.id, { adopted_by: row.id }, `Taken over by ${id.label}.`);
    this.deps.log?.(`klarna: ${id.label}: adopted Klarna refund ${adoptable.klarna_refund_id} made for ${label}; nothing sent.`);
    scope?.entries.add(row.id);
    return { row };
  }

  /** An earlier entry whose outcome was unknown: Klarna's order shows the refund it made. */
  private markMade(row: LedgerRow, refundId: string): Promise<LedgerRow> {
    return this.deps.ledger.update(
      row.id,
      { status: "succeeded", klarna_refund_id: refundId, error: null },
      `Klarna's order shows refund ${refundId} with this entry's reference: Klarna made it.`,
    );
  }

  private earlierRefusal(
    d: Extract<EarlierDecision, { do: "refuse" }>,
    row: LedgerRow,
    ctx: EarlierContext | null,
    intent: ResolvedIntent,
  ): KlarnaPluginRefusal {
    const label = earlierLabel(row);
    const money = formatMoney(row.amount, row.currency_code ?? intent.currency_code);
    const refs = { klarna_refund_id: row.klarna_refund_id, ledger_id: row.id };
    switch (d.reason) {
      case "record_earlier_first":
        if (ctx?.retryable && row.kind === "claim") {
          // Medusa's dashboard cannot retry a claim: its request can be sent again, or Klarna's refund recorded.
          const resume = ctx.resumeKey ? ` with the header Idempotency-Key ${ctx.resumeKey}` : " with the Idempotency-Key Medusa answered it with";
          return new KlarnaPluginRefusal(
            "EARLIER_REFUND_UNRECORDED",
            `Klarna already refunded ${money} for ${label} (Klarna refund ${row.klarna_refund_id}), which Medusa has not recorded yet. Nothing was sent. ` +
              `Finish it first (nothing will be sent to Klarna again): send its request POST /admin/orders/${row.order_id}/claims again${resume} (Medusa resumes claim ${row.resource_id}), ` +
              `or record Klarna's refund as a refund of the order: POST /admin/klarna/orders/${row.order_id}/adopt-refund with {"klarna_refund_id":"${row.klarna_refund_id}"} ("Record refund" in the order's Klarna panel). Then try again.`,
            refs,
          );
        }
        if (ctx?.retryable) {
          return new KlarnaPluginRefusal(
            "EARLIER_REFUND_UNRECORDED",
            `Klarna already refunded ${money} for ${label} (Klarna refund ${row.klarna_refund_id}), which Medusa has not recorded yet. Nothing was sent. ${retryHint(row)} first (nothing will be sent to Klarna again), then try again.`,
            refs,
          );
        }
        return new KlarnaPluginRefusal(
          "EARLIER_REFUND_UNRECORDED",
          `Klarna already refunded ${money} for ${label} (Klarna refund ${row.klarna_refund_id}), which Medusa never recorded${row.kind === "return" ? `; its return was canceled, or received without this refund` : ""}. Nothing was sent. ` +
            `Record that refund first: POST /admin/klarna/orders/${row.order_id}/adopt-refund with {"klarna_refund_id":"${row.klarna_refund_id}"} (or "Record refund" in the order's Klarna panel), then try again.`,
          refs,
        );
      case "earlier_in_flight":
        return new KlarnaPluginRefusal(
          "EARLIER_REFUND_IN_FLIGHT",
          `An earlier refund on this Klarna order (${label}, ${money}) was sent moments ago and Klarna has not confirmed it yet. Nothing was sent. Retry in ${d.retryAfterS} s.`,
          refs,
        );
      case "order_unavailable":
        return new KlarnaPluginRefusal(
          "KLARNA_UNAVAILABLE",
          `An earlier refund on this Klarna order (${label}, ${money}) has an unknown outcome, and Klarna's order could not be read to settle it. Nothing was sent. Retry when Klarna answers again.`,
          refs,
        );
    }
  }

  // ---- the refund itself ----------------------------------------------------------------------

  private async run(
    lease: HeldLease,
    intent: ResolvedIntent,
    id: Identity,
    own: LedgerRow | null,
    firstContext: PlanContext,
    scope?: RequestScope,
  ): Promise<{ row: LedgerRow }> {
    const { ledger, client } = this.deps;
    let row = own;
    let planContext = firstContext;
    let notes: string[] = [];
    let lastError: KlarnaApiError | undefined;
    let request: RefundRequest | undefined;
    let d: Decision = decide(rowView(row), intent, { kind: "start" });
    for (let step = 0; step < 10; step++) {
      switch (d.do) {
        case "send": {
          try {
            request = intent.plan(planContext, id.reference);
          } catch (err) {
            if (err instanceof RefundPlanError && row) {
              await ledger.update(row.id, {
                status: row.status === "unknown" ? "unknown" : "failed",
                error: { code: err.code, field: err.field, message: err.message },
              });
            }
            throw err;
          }
          lease.assertHeld();
          // The key was sent before and its outcome never settled (an unknown answer, or a process that died).
          const keyHadUnknownOutcome = d.key === "keep" && row !== null && row.key_first_sent_at !== null;
          row = await ledger.beforeSend(ledgerIntent(intent, id), intent.amount, id.reference, request, d.key, notes);
          notes = [];
          let observation: Observation;
          try {
            const created = await client.refundOrder(lease.klarnaOrderId, request, { idempotencyKey: row.idempotency_key });
            return this.succeeded(row, created.refundId, "answer", id, scope);
          } catch (err) {
            if (!(err instanceof KlarnaApiError)) throw err;
            lastError = err;
            observation = answerOf(err, keyHadUnknownOutcome);
          }
          d = decide(rowView(row), intent, observation);
          if (d.do === "fail" && d.status === "failed") {
            row = await ledger.update(row.id, { status: "failed", error: errorFields(lastError), correlation_id: lastError.correlation_id ?? null });
            const fallback = await this.returnFeeFallback(lease, intent, id, request, planContext, lastError);
            if (!fallback) throw lastError;
            planContext = fallback.context;
            notes = [fallback.why];
            d = { do: "send", key: "new" };
          } else {
            // Klarna may have refunded: the key is kept until its order shows otherwise.
            row = await ledger.update(row.id, { status: "unknown", error: errorFields(lastError), correlation_id: lastError.correlation_id ?? null });
          }
          continue;
        }
        case "look": {
          let observation: Observation;
          try {
            const order = await client.getOrder(lease.klarnaOrderId);
            observation = { kind: "order", refund: refundOnOrder(order, id.reference) };
          } catch {
            observation = { kind: "order_unavailable" };
          }
          d = decide(rowView(row), intent, observation, d.phase, this.policy);
          continue;
        }
        case "succeed":
          return this.succeeded(row!, d.refundId, d.via, id, scope, lastError !== undefined);
        case "fail": {
          // status "unknown": the row already says so; the reconciler looks again later.
          this.deps.onUnknownOutcome?.(lease.klarnaOrderId);
          if (!lastError)
            throw new KlarnaPluginRefusal("KLARNA_UNAVAILABLE", `Klarna could not be asked about ${id.label}. Nothing was sent. Retry in a moment.`);
          throw d.status === "unknown" ? new RefundOutcomeUnknown(lastError, d.checked, id.label) : lastError;
        }
        case "refuse":
          throw this.refusal(d, row, intent, id);
      }
    }
    throw new Error(`klarna: no decision reached for ${id.label}`);
  }

  private async succeeded(
    row: LedgerRow,
    refundId: string,
    via: "answer" | "order" | "ledger",
    id: Identity,
    scope?: RequestScope,
    afterFailure = false,
  ): Promise<{ row: LedgerRow }> {
    const { ledger } = this.deps;
    scope?.entries.add(row.id);
    if (via === "ledger") {
      this.deps.log?.(
        `klarna: ${id.label}: Klarna refund ${refundId} was made by an earlier attempt that Medusa did not record; reusing it, nothing sent.`,
      );
      return { row };
    }
    const patch = { status: "succeeded" as const, klarna_refund_id: refundId, error: null, correlation_id: null };
    if (via === "order") {
      const note = afterFailure
        ? `Klarna did not confirm the refund; its order shows refund ${refundId} with this refund's reference, so Klarna made it.`
        : `Confirmed by reading the Klarna order: refund ${refundId} was made by an earlier attempt.`;
      return { row: await ledger.update(row.id, patch, note) };
    }
    if (scope) {
      // Inside a request the success is written when the lease is released (finish), with Medusa's
      // outcome, in one statement. Should the process die before, the entry keeps its key and
      // status, which the next attempt settles by reusing the key (Klarna replays the refund).
      const made = this.made.get(scope) ?? new Map<string, string>();
      made.set(row.id, refundId);
      this.made.set(scope, made);
      return { row: { ...row, ...patch } };
    }
    return { row: await ledger.update(row.id, patch) };
  }

  /** Klarna refused the return_fee line outright: read the order once, apply the fallback, say why. */
  private async returnFeeFallback(
    lease: HeldLease,
    intent: ResolvedIntent,
    id: Identity,
    request: RefundRequest,
    ctx: PlanContext,
    err: KlarnaApiError,
  ): Promise<{ context: PlanContext; why: string } | undefined> {
    const hadFee = (request.order_lines ?? []).some((l) => l.type === "return_fee");
    if (!hadFee || !ctx.allowReturnFee || err.status !== 403) return undefined;
    const order = await this.deps.client.getOrder(lease.klarnaOrderId);
    if (order.captures.length === 0 || order.captured_amount - order.refunded_amount < intent.amount) return undefined;
    const why = `Klarna refused the return fee (${err.error_code}: ${err.error_messages.join(" ")}; correlation ${err.correlation_id}). The order has ${order.captures.length} capture(s) in market ${order.purchase_country}; sent again with the "${this.deps.options.return_fee_fallback}" fallback.`;
    this.deps.log?.(`klarna: ${id.label}: ${why}`);
    return { context: { captureCount: order.captures.length, purchaseCountry: order.purchase_country, allowReturnFee: false }, why };
  }

  private refusal(d: Extract<Decision, { do: "refuse" }>, row: LedgerRow | null, intent: ResolvedIntent, id: Identity): KlarnaPluginRefusal {
    const refs = { klarna_refund_id: row?.klarna_refund_id, idempotency_key: row?.idempotency_key, ledger_id: row?.id };
    const money = (n: number) => formatMoney(n, intent.currency_code);
    switch (d.reason) {
      case "already_recorded":
        return new KlarnaPluginRefusal(
          "ALREADY_REFUNDED",
          `${capitalise(id.label)} was already refunded through Klarna (Klarna refund ${row?.klarna_refund_id}) by another request. Nothing was refunded again.`,
          refs,
        );
      case "amount_mismatch":
        return new KlarnaPluginRefusal(
          "AMOUNT_MISMATCH",
          `Klarna already refunded ${money(d.klarnaAmount)} for ${id.label} (Klarna refund ${d.refundId}), but Medusa now asks for ${money(intent.amount)}. Nothing was sent. Use a refund amount of ${money(d.klarnaAmount)}, or refund the difference separately.`,
          { ...refs, klarna_refund_id: d.refundId },
        );
      case "in_flight":
        return new KlarnaPluginRefusal(
          "IN_FLIGHT",
          `An earlier attempt of ${id.label} was sent to Klarna moments ago and Klarna has not confirmed it yet. Nothing was sent. Retry in ${d.retryAfterS} s.`,
          refs,
        );
      case "order_unavailable":
        return new KlarnaPluginRefusal(
          "KLARNA_UNAVAILABLE",
          `An earlier attempt of ${id.label} has an unknown outcome, and Klarna's order could not be read to settle it. Nothing was sent. Retry when Klarna answers again.`,
          refs,
        );
    }
  }

  // ---- cancelling a return ------------------------------------------------------------------

  /**
   * Before a return is cancelled: its refund, if one was attempted, is settled against Klarna's order.
   * Refuses (KlarnaPluginRefusal) when Klarna refunded it (receive the return instead), when Klarna
   * cannot be asked, or when the attempt may still be on its way.
   */
  async settleBeforeReturnCancel(returnId: string): Promise<void> {
    const { ledger, intents } = this.deps;
    const candidate = (await ledger.listForResource(returnId)).find((r) => r.intent === `return:${returnId}`);
    if (!candidate || candidate.status === "failed" || (candidate.status === "pending" && !candidate.key_first_sent_at)) return;
    const lease = await this.deps.leases.acquire(candidate.klarna_order_id, candidate.order_id, `cancelling return ${returnId}`);
    try {
      let row = lease.rows.find((r) => r.id === candidate.id) ?? candidate;
      const wasUnknown = row.status !== "succeeded";
      let ctx: EarlierContext | null = null;
      let observation: Parameters<typeof decideEarlier>[3] = { kind: "start" };
      for (let step = 0; step < 8; step++) {
        // No new refund of any amount takes it over: a cancelled return's refund is never adopted here.
        const d = decideEarlier(rowView(row)!, { amount: Number.NaN }, ctx, observation, this.policy);
        switch (d.do) {
          case "ignore":
          case "mark_recorded":
            return;
          case "read_medusa":
            ctx = await intents.earlierContext(row);
            continue;
          case "look": {
            const order = await this.deps.client.getOrder(lease.klarnaOrderId).catch(() => null);
            observation = order ? { kind: "order", refund: refundOnOrder(order, row.reference) } : { kind: "order_unavailable" };
            continue;
          }
          case "mark_not_made":
            await ledger.update(
              row.id,
              { status: "failed" },
              "Klarna's order shows no refund with this entry's reference: its key made nothing (checked before the return was cancelled).",
            );
            return;
          case "mark_made":
            row = await this.markMade(row, d.refundId);
            observation = { kind: "start" };
            continue;
          case "adopt":
          case "refuse": {
            if (d.do === "refuse" && d.reason !== "record_earlier_first")
              throw this.earlierRefusal(d, row, ctx, { currency_code: row.currency_code } as ResolvedIntent);
            const why = wasUnknown ? "the answer was lost on the way" : "Medusa did not record it when the return was received";
            throw new KlarnaPluginRefusal(
              "RETURN_ALREADY_REFUNDED",
              `Klarna already refunded ${formatMoney(row.amount, row.currency_code)} for return ${returnId} (Klarna refund ${row.klarna_refund_id}); ${why}. ` +
                `Receive the return to record that refund in Medusa: nothing will be sent to Klarna again.`,
              { klarna_refund_id: row.klarna_refund_id, ledger_id: row.id },
            );
          }
        }
      }
    } finally {
      await lease.release();
    }
  }

  // ---- adopting a refund Klarna made --------------------------------------------------------

  /** Records in Medusa a refund Klarna already made (admin route adopt-refund): nothing is sent. */
  private async adoptKlarnaRefund(lease: HeldLease, intent: ResolvedIntent, id: Identity, scope?: RequestScope): Promise<{ row: LedgerRow }> {
    const klarnaRefundId = String(intent.adopts);
    const order = await this.deps.client.getOrder(lease.klarnaOrderId);
    const refund = order.refunds.find((r) => r.refund_id === klarnaRefundId);
    if (!refund) throw new KlarnaPluginRefusal("NOT_ON_KLARNA_ORDER", `Klarna order ${lease.klarnaOrderId} has no refund ${klarnaRefundId}.`);
    if (refund.refunded_amount !== intent.amount) {
      throw new KlarnaPluginRefusal(
        "AMOUNT_MISMATCH",
        `Klarna refund ${klarnaRefundId} is ${formatMoney(refund.refunded_amount, intent.currency_code)}, not ${formatMoney(intent.amount, intent.currency_code)}.`,
      );
    }
    const all = await this.deps.ledger.rowsForOrder(lease.klarnaOrderId);
    const inMedusa = (await this.deps.queries.medusaRecordedRefunds(lease.klarnaOrderId, { orderId: intent.order_id })).find(
      (r) => r.klarna_refund_id === klarnaRefundId,
    );
    const recorded =
      all.find((r) => r.klarna_refund_id === klarnaRefundId && (r.medusa_state === "recorded" || r.medusa_state === "adopted")) ??
      (inMedusa && all.find((r) => r.intent === inMedusa.intent));
    if (recorded || inMedusa) {
      // The ledger may not know yet that Medusa committed it (a request whose end was lost): Medusa's payment data tells.
      const what = recorded && recorded.kind !== "adoption" ? ` (for ${earlierLabel(recorded)})` : "";
      throw new KlarnaPluginRefusal(
        "ALREADY_REFUNDED",
        `Medusa already records Klarna refund ${klarnaRefundId}${what}. Nothing was recorded again.`,
        {
          ledger_id: recorded?.id,
        },
      );
    }
    const madeFor = all.filter(
      (r) => r.klarna_refund_id === klarnaRefundId && r.intent !== id.intent && r.medusa_state !== "recorded" && r.medusa_state !== "adopted",
    );
    const row = await this.deps.ledger.upsertSettled(ledgerIntent(intent, id), intent.amount, refund.reference ?? null, klarnaRefundId, [
      `Recorded in Medusa a refund Klarna had made${madeFor.length ? ` for ${madeFor.map(earlierLabel).join(", ")}` : " outside this plugin"}; nothing was sent.`,
    ]);
    for (const r of madeFor) await this.deps.ledger.update(r.id, { adopted_by: row.id }, `Recorded in Medusa by ${id.label}.`);
    scope?.entries.add(row.id);
    return { row };
  }
}

function ledgerIntent(intent: ResolvedIntent, id: Identity): LedgerIntent {
  return {
    klarna_order_id: intent.klarna_order_id,
    intent: id.intent,
    kind: intent.kind,
    resource_id: intent.resource_id,
    order_id: intent.order_id,
    source: intent.source,
    currency_code: intent.currency_code,
  };
}

/** The refund on Klarna's order carrying a reference the plugin sent. */
function refundOnOrder(order: Order, reference: string | null): { id: string; amount: number } | undefined {
  if (!reference) return undefined;
  const refund = (order.refunds ?? []).find((r) => r.reference === reference);
  return refund ? { id: refund.refund_id, amount: refund.refunded_amount } : undefined;
}

/** What Klarna's failed answer says about the refund. */
function answerOf(err: KlarnaApiError, keyHadUnknownOutcome: boolean): Observation {
  if (err.actedWithoutId) return { kind: "answer", outcome: "acted_without_id" };
  if (err.outcomeUnknown) return { kind: "answer", outcome: "unknown" };
  return { kind: "answer", outcome: "refused", afterUnknown: keyHadUnknownOutcome || err.afterUnknownAttempt };
}

function errorFields(err: KlarnaApiError): Record<string, unknown> {
  return {
    status: err.status,
    error_code: err.error_code,
    error_messages: err.error_messages,
    correlation_id: err.correlation_id,
    attempts: err.attempts,
  };
}

/** An earlier ledger entry in an admin's words. */
export function earlierLabel(row: LedgerRow): string {
  switch (row.kind) {
    case "return":
      return `return ${row.resource_id}`;
    case "claim":
      return `claim ${row.resource_id}`;
    case "swap":
      return `exchange ${row.resource_id}`;
    case "fee_waiver":
      return `the return fee of return ${row.resource_id}`;
    case "adoption":
      return `the recording of Klarna refund ${row.klarna_refund_id}`;
    default:
      return `a manual refund of order ${row.order_id}`;
  }
}

function retryHint(row: LedgerRow): string {
  switch (row.kind) {
    case "return":
      return `Receive return ${row.resource_id}`;
    case "swap":
      return `Retry the payment of exchange ${row.resource_id}`;
    case "fee_waiver":
      return `Give the return fee of return ${row.resource_id} back again`;
    case "adoption":
      return `Record Klarna refund ${row.klarna_refund_id} again`;
    default:
      return `Refund ${formatMoney(row.amount, row.currency_code)} on order ${row.order_id} again`;
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
