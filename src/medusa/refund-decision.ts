/**
 * The exactly-once decision, written once: given a ledger row, the refund being asked for, what Klarna
 * answered and the database's clock, what to do next. Pure: no I/O, no clock of its own. The executor
 * (exactly-once.ts) calls it at every step and nothing else decides to send, look, reuse, refuse or
 * replace a key.
 *
 * The rules (Klarna docs "Idempotency"; KLARNA.md):
 * - Klarna registers a key once and replays its answer for 24 hours; past that it forgets the key.
 * - A key whose outcome was ever unknown (timeout, dropped connection, 5xx, 429 after retries) may
 *   have made a refund. Such a key is replaced only after Klarna's order shows it made nothing, and
 *   never because a later answer for it was a 4xx: 409 (a duplicate in flight), 404 and 401 (a
 *   credential change) can follow an attempt that did refund.
 * - A key that only ever got definite refusals made nothing, and may be replaced.
 * - A refund Klarna made is reused (nothing sent) until Medusa has recorded it; then a second
 *   request for it is refused as a duplicate.
 * - An earlier attempt on the same Klarna order whose outcome is not settled blocks any new money
 *   movement on that order until it is settled against Klarna's order, then adopted or reported.
 */

/** Klarna forgets a key after 24 hours; a key older than this is checked against the order first. */
export const KEY_SAFE_AGE_S = 23 * 3600;
/**
 * A request sent this recently may still be on its way through Klarna: "not on the order yet" does
 * not prove that its key made nothing. The default; the executor derives it from the client's
 * timeout and retries (inFlightGraceFor).
 */
export const IN_FLIGHT_GRACE_S = 30;

/** How long a sent request may still be at Klarna: every attempt's timeout, and a margin. */
export function inFlightGraceFor(timeoutMs: number, retries: number): number {
  return Math.max(10, Math.ceil((timeoutMs * (retries + 1)) / 1000) + 5);
}

/** Settings of the decision that come from the plugin's options. */
export interface DecisionPolicy {
  inFlightGraceS: number;
}
const DEFAULT_POLICY: DecisionPolicy = { inFlightGraceS: IN_FLIGHT_GRACE_S };

export type LedgerStatus = "pending" | "unknown" | "succeeded" | "failed";
/** What Medusa did with a refund Klarna made: recorded it, or the request ended without recording it. */
export type MedusaState = "recorded" | "not_recorded" | "adopted" | null;

/** A ledger row as the decision sees it (ages from the database's clock, in seconds). */
export interface RowView {
  status: LedgerStatus;
  amount: number;
  /** The current key has been sent to Klarna at least once. */
  keySent: boolean;
  keyAgeS: number | null;
  lastSentAgeS: number | null;
  medusa: MedusaState;
  klarnaRefundId: string | null;
}

export interface IntentView {
  amount: number;
}

/** Klarna's order, read for the refund carrying this row's reference. */
export interface OrderLook {
  kind: "order";
  /** The refund on Klarna's order with the row's reference, if there is one. */
  refund?: { id: string; amount: number };
}

export type Observation =
  /** An attempt starts: nothing asked of Klarna yet. */
  | { kind: "start" }
  | OrderLook
  /** Klarna's order could not be read. */
  | { kind: "order_unavailable" }
  /** Klarna answered the refund call. `afterUnknown`: an earlier attempt of this key had an unknown outcome. */
  | { kind: "answer"; outcome: "created"; refundId: string }
  | { kind: "answer"; outcome: "acted_without_id" }
  | { kind: "answer"; outcome: "unknown" }
  | { kind: "answer"; outcome: "refused"; afterUnknown: boolean };

/** When a look at Klarna's order was made: before sending, or after an answer that settled nothing. */
export type LookPhase = "before_send" | "after_answer";

export type Decision =
  /** Send the refund: with the row's key, or with a new one (the old key made nothing). */
  | { do: "send"; key: "keep" | "new" }
  /** Read Klarna's order (once) and decide again. */
  | { do: "look"; phase: LookPhase }
  /** Klarna made this refund: record it, send nothing. */
  | { do: "succeed"; refundId: string; via: "answer" | "order" | "ledger" }
  /** Klarna refused and made nothing: the next attempt may use a new key. */
  | { do: "fail"; status: "failed" }
  /** Nobody knows whether Klarna refunded: keep the key. `checked`: what one look at the order showed. */
  | { do: "fail"; status: "unknown"; checked: "not_on_order" | "order_unavailable" | "not_checked" }
  | { do: "refuse"; reason: "already_recorded" }
  | { do: "refuse"; reason: "amount_mismatch"; klarnaAmount: number; refundId: string }
  | { do: "refuse"; reason: "in_flight"; retryAfterS: number }
  | { do: "refuse"; reason: "order_unavailable" };

/**
 * The next step for a refund intent whose ledger row is `row` (null: none yet), after `observation`.
 * `phase` says, for an order look, whether it came before a send or after an answer.
 */
export function decide(
  row: RowView | null,
  intent: IntentView,
  observation: Observation,
  phase: LookPhase = "before_send",
  policy: DecisionPolicy = DEFAULT_POLICY,
): Decision {
  switch (observation.kind) {
    case "start":
      return onStart(row, intent);
    case "order":
      return phase === "before_send" ? onLookBeforeSend(row, intent, observation, policy) : onLookAfterAnswer(observation);
    case "order_unavailable":
      return phase === "before_send"
        ? { do: "refuse", reason: "order_unavailable" }
        : { do: "fail", status: "unknown", checked: "order_unavailable" };
    case "answer":
      switch (observation.outcome) {
        case "created":
          return { do: "succeed", refundId: observation.refundId, via: "answer" };
        case "acted_without_id":
          // Klarna answered 201 but the Refund-Id header is missing: it acted. Find the refund on the order.
          return { do: "look", phase: "after_answer" };
        case "unknown":
          // Tell the admin the truth: one look at the order says whether Klarna refunded after all.
          return { do: "look", phase: "after_answer" };
        case "refused":
          return observation.afterUnknown ? { do: "look", phase: "after_answer" } : { do: "fail", status: "failed" };
      }
  }
}

function onStart(row: RowView | null, intent: IntentView): Decision {
  if (!row) return { do: "send", key: "new" };
  switch (row.status) {
    case "succeeded":
      if (row.medusa === "recorded" || row.medusa === "adopted") return { do: "refuse", reason: "already_recorded" };
      if (row.amount !== intent.amount) {
        return { do: "refuse", reason: "amount_mismatch", klarnaAmount: row.amount, refundId: String(row.klarnaRefundId) };
      }
      return { do: "succeed", refundId: String(row.klarnaRefundId), via: "ledger" };
    case "failed":
      // Every answer for this key was a refusal: it made nothing.
      return { do: "send", key: "new" };
    case "pending":
    case "unknown":
      if (!row.keySent) return { do: "send", key: "keep" };
      // Within Klarna's 24 hours, resending the same body with the same key is registered once.
      if (row.amount === intent.amount && row.keyAgeS !== null && row.keyAgeS < KEY_SAFE_AGE_S) return { do: "send", key: "keep" };
      // The old key would replay the old amount, or Klarna may have forgotten it: look first.
      return { do: "look", phase: "before_send" };
  }
}

function onLookBeforeSend(row: RowView | null, intent: IntentView, look: OrderLook, policy: DecisionPolicy): Decision {
  if (look.refund) {
    if (look.refund.amount === intent.amount) return { do: "succeed", refundId: look.refund.id, via: "order" };
    return { do: "refuse", reason: "amount_mismatch", klarnaAmount: look.refund.amount, refundId: look.refund.id };
  }
  const sentAge = row?.lastSentAgeS ?? null;
  if (sentAge !== null && sentAge < policy.inFlightGraceS) {
    return { do: "refuse", reason: "in_flight", retryAfterS: Math.max(1, Math.ceil(policy.inFlightGraceS - sentAge)) };
  }
  // Klarna's order shows the old key made nothing.
  return { do: "send", key: "new" };
}

function onLookAfterAnswer(look: OrderLook): Decision {
  if (look.refund) return { do: "succeed", refundId: look.refund.id, via: "order" };
  return { do: "fail", status: "unknown", checked: "not_on_order" };
}

// ---- earlier attempts on the same Klarna order ----------------------------------------------------

/** What Medusa shows of the thing an earlier refund was for. */
export interface EarlierContext {
  /** Medusa has recorded that refund (its payment data carries it). */
  recordedInMedusa: boolean;
  /** It can still be recorded by retrying it (a requested return, an open claim). */
  retryable: boolean;
  /** The Idempotency-Key that resumes the Medusa request which asked for it (a claim's), for the admin's message. */
  resumeKey?: string | null;
}

export type EarlierDecision =
  /** Nothing unsettled about it. */
  | { do: "ignore" }
  /** Read what Medusa shows of it (no Klarna call), then decide again. */
  | { do: "read_medusa" }
  /** Mark it recorded in Medusa (its request committed after all), then ignore it. */
  | { do: "mark_recorded" }
  /** Read Klarna's order for it. */
  | { do: "look" }
  /** Klarna's order shows its key made nothing: mark it failed. */
  | { do: "mark_not_made" }
  /** Klarna's order shows it made the refund: mark it succeeded, then decide again. */
  | { do: "mark_made"; refundId: string }
  /** The new request takes the earlier refund over: Medusa records Klarna's refund once, under the new request. */
  | { do: "adopt"; refundId: string }
  /** Settle the earlier refund first: the new request is refused, naming it. */
  | { do: "refuse"; reason: "record_earlier_first" | "earlier_in_flight" | "order_unavailable"; refundId?: string; retryAfterS?: number };

/**
 * Before a new refund on a Klarna order: what to do about an earlier attempt (`row`, another intent
 * on the same order) whose outcome may not be settled. `context` is what Medusa shows of it (null:
 * not read yet); `observation` what Klarna's order shows.
 */
export function decideEarlier(
  row: RowView,
  newIntent: IntentView,
  context: EarlierContext | null,
  observation: { kind: "start" } | OrderLook | { kind: "order_unavailable" },
  policy: DecisionPolicy = DEFAULT_POLICY,
): EarlierDecision {
  if (row.status === "failed") return { do: "ignore" };
  if (row.status === "pending" && !row.keySent) return { do: "ignore" };
  if (row.status === "succeeded") {
    if (row.medusa === "recorded" || row.medusa === "adopted") return { do: "ignore" };
    if (!context) return { do: "read_medusa" };
    if (context.recordedInMedusa) return { do: "mark_recorded" };
    // Klarna holds money Medusa never recorded. Where it can no longer be recorded the way it was
    // asked for (the return was cancelled, a manual refund), a new refund of the same amount takes it
    // over; anything else waits until it is recorded.
    if (!context.retryable && row.amount === newIntent.amount) return { do: "adopt", refundId: String(row.klarnaRefundId) };
    return { do: "refuse", reason: "record_earlier_first", refundId: String(row.klarnaRefundId) };
  }
  // pending with its key sent, or unknown: Klarna's order tells.
  switch (observation.kind) {
    case "start":
      return { do: "look" };
    case "order_unavailable":
      return { do: "refuse", reason: "order_unavailable" };
    case "order":
      if (observation.refund) return { do: "mark_made", refundId: observation.refund.id };
      if (row.lastSentAgeS !== null && row.lastSentAgeS < policy.inFlightGraceS) {
        return { do: "refuse", reason: "earlier_in_flight", retryAfterS: Math.max(1, Math.ceil(policy.inFlightGraceS - row.lastSentAgeS)) };
      }
      return { do: "mark_not_made" };
  }
}

// ---- the intent's own earlier attempt, before it is retried -------------------------------------

export type RetryDecision =
  /** Nothing says Medusa committed it: the attempt is retried as its ledger row says (decide()). */
  | { do: "retry" }
  /** Read what Medusa shows of it (no Klarna call), then decide again. */
  | { do: "read_medusa" }
  /** Medusa committed it after all (the request's end was never written): mark it recorded. */
  | { do: "mark_recorded" }
  /** Medusa committed a refund whose Klarna outcome the ledger never got: read Klarna's order. */
  | { do: "look" }
  /** Klarna's order shows the refund: mark it made, then decide again. */
  | { do: "mark_made"; refundId: string }
  /** Nothing can be settled now: Klarna's order is unreadable, or shows no refund Medusa recorded. */
  | { do: "refuse"; reason: "order_unavailable" | "recorded_not_on_order" };

/**
 * Before an intent's own earlier attempt (`row`) is retried: whether Medusa committed it although the
 * ledger does not say so (the request's end was never written, or a request rolled back by its status
 * committed after all). Retrying such an attempt would make Medusa record Klarna's one refund twice
 * (the key replays it). `context` is what Medusa shows (null: not read yet); `observation` what
 * Klarna's order shows.
 */
export function decideRetry(
  row: RowView,
  context: EarlierContext | null,
  observation: { kind: "start" } | OrderLook | { kind: "order_unavailable" },
): RetryDecision {
  if (row.status === "failed" || (row.status === "pending" && !row.keySent)) return { do: "retry" };
  // Recorded (or taken over): decide() refuses it as a duplicate.
  if (row.medusa === "recorded" || row.medusa === "adopted") return { do: "retry" };
  if (!context) return { do: "read_medusa" };
  if (!context.recordedInMedusa) return { do: "retry" };
  if (row.status === "succeeded") return { do: "mark_recorded" };
  // Medusa records a refund only after Klarna made it: Klarna's order shows which.
  switch (observation.kind) {
    case "start":
      return { do: "look" };
    case "order_unavailable":
      return { do: "refuse", reason: "order_unavailable" };
    case "order":
      return observation.refund ? { do: "mark_made", refundId: observation.refund.id } : { do: "refuse", reason: "recorded_not_on_order" };
  }
}
