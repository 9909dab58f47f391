import fc from "fast-check";
import {
  decide,
  decideEarlier,
  decideRetry,
  Decision,
  EarlierContext,
  IN_FLIGHT_GRACE_S,
  KEY_SAFE_AGE_S,
  Observation,
  OrderLook,
  RowView,
} from "../../src/medusa/refund-decision";

/**
 * The exactly-once decision as a table: every ledger state × what Klarna answered, and what the plugin
 * does next. Then a property test drives the decision against a model of Klarna (keys remembered for 24
 * hours, answers lost before or after the state change, 4xx after an unknown outcome) and of Medusa
 * (rollbacks): Klarna never refunds one intent twice, and Medusa never records a refund Klarna did not make.
 */
const row = (over: Partial<RowView> = {}): RowView => ({
  status: "pending",
  amount: 2618,
  keySent: true,
  keyAgeS: 60,
  lastSentAgeS: 60,
  medusa: null,
  klarnaRefundId: null,
  ...over,
});
const intent = { amount: 2618 };
const start: Observation = { kind: "start" };

describe("decide: an attempt starts", () => {
  it.each<[string, RowView | null, Decision]>([
    ["no ledger entry yet", null, { do: "send", key: "new" }],
    [
      "Klarna refunded it and Medusa recorded it",
      row({ status: "succeeded", klarnaRefundId: "r1", medusa: "recorded" }),
      { do: "refuse", reason: "already_recorded" },
    ],
    [
      "Klarna refunded it and another entry recorded it",
      row({ status: "succeeded", klarnaRefundId: "r1", medusa: "adopted" }),
      { do: "refuse", reason: "already_recorded" },
    ],
    [
      "Klarna refunded it, Medusa rolled back",
      row({ status: "succeeded", klarnaRefundId: "r1", medusa: "not_recorded" }),
      { do: "succeed", refundId: "r1", via: "ledger" },
    ],
    [
      "Klarna refunded it, Medusa's outcome unknown (read by the executor first)",
      row({ status: "succeeded", klarnaRefundId: "r1" }),
      { do: "succeed", refundId: "r1", via: "ledger" },
    ],
    [
      "Klarna refunded another amount",
      row({ status: "succeeded", klarnaRefundId: "r1", amount: 2500, medusa: "not_recorded" }),
      { do: "refuse", reason: "amount_mismatch", klarnaAmount: 2500, refundId: "r1" },
    ],
    ["Klarna refused it outright", row({ status: "failed" }), { do: "send", key: "new" }],
    ["written, never sent", row({ keySent: false, keyAgeS: null, lastSentAgeS: null }), { do: "send", key: "keep" }],
    ["sent, process died before an answer (young key)", row({ status: "pending" }), { do: "send", key: "keep" }],
    ["unknown outcome, young key, same amount", row({ status: "unknown" }), { do: "send", key: "keep" }],
    ["unknown outcome, key near Klarna's 24 hours", row({ status: "unknown", keyAgeS: KEY_SAFE_AGE_S + 1 }), { do: "look", phase: "before_send" }],
    ["unknown outcome, amount changed", row({ status: "unknown", amount: 2500 }), { do: "look", phase: "before_send" }],
    ["pending sent, amount changed", row({ status: "pending", amount: 2500 }), { do: "look", phase: "before_send" }],
  ])("%s", (_what, r, expected) => {
    expect(decide(r, intent, start)).toEqual(expected);
  });
});

describe("decide: what Klarna's order shows, before sending", () => {
  it.each<[string, RowView, Observation, Decision]>([
    [
      "the refund is there, same amount",
      row({ status: "unknown", keyAgeS: KEY_SAFE_AGE_S + 5 }),
      { kind: "order", refund: { id: "r1", amount: 2618 } },
      { do: "succeed", refundId: "r1", via: "order" },
    ],
    [
      "the refund is there, another amount",
      row({ status: "unknown", amount: 2500 }),
      { kind: "order", refund: { id: "r1", amount: 2500 } },
      { do: "refuse", reason: "amount_mismatch", klarnaAmount: 2500, refundId: "r1" },
    ],
    [
      "not there, sent long ago: the old key made nothing",
      row({ status: "unknown", amount: 2500, lastSentAgeS: IN_FLIGHT_GRACE_S + 1 }),
      { kind: "order" },
      { do: "send", key: "new" },
    ],
    [
      "not there, sent moments ago: it may still be on its way",
      row({ status: "unknown", amount: 2500, lastSentAgeS: 5 }),
      { kind: "order" },
      { do: "refuse", reason: "in_flight", retryAfterS: IN_FLIGHT_GRACE_S - 5 },
    ],
    [
      "Klarna's order cannot be read",
      row({ status: "unknown", amount: 2500 }),
      { kind: "order_unavailable" },
      { do: "refuse", reason: "order_unavailable" },
    ],
  ])("%s", (_what, r, observation, expected) => {
    expect(decide(r, intent, observation, "before_send")).toEqual(expected);
  });
});

describe("decide: Klarna answers the refund", () => {
  it.each<[string, Observation, Decision]>([
    ["201 with Refund-Id", { kind: "answer", outcome: "created", refundId: "r9" }, { do: "succeed", refundId: "r9", via: "answer" }],
    ["201 without Refund-Id: Klarna acted", { kind: "answer", outcome: "acted_without_id" }, { do: "look", phase: "after_answer" }],
    ["timeout, dropped connection, 5xx", { kind: "answer", outcome: "unknown" }, { do: "look", phase: "after_answer" }],
    [
      "a 4xx for a key that never had an unknown outcome",
      { kind: "answer", outcome: "refused", afterUnknown: false },
      { do: "fail", status: "failed" },
    ],
    [
      "a 4xx (409, 404, 401) after an unknown outcome",
      { kind: "answer", outcome: "refused", afterUnknown: true },
      { do: "look", phase: "after_answer" },
    ],
  ])("%s", (_what, observation, expected) => {
    expect(decide(row(), intent, observation)).toEqual(expected);
  });

  it.each<[string, Observation, Decision]>([
    [
      "then the order shows it: Klarna refunded",
      { kind: "order", refund: { id: "r1", amount: 2618 } },
      { do: "succeed", refundId: "r1", via: "order" },
    ],
    ["then the order does not show it: unknown, key kept", { kind: "order" }, { do: "fail", status: "unknown", checked: "not_on_order" }],
    [
      "then the order cannot be read: unknown, key kept",
      { kind: "order_unavailable" },
      { do: "fail", status: "unknown", checked: "order_unavailable" },
    ],
  ])("%s", (_what, observation, expected) => {
    expect(decide(row({ status: "unknown" }), intent, observation, "after_answer")).toEqual(expected);
  });
});

describe("decideEarlier: an earlier attempt on the same Klarna order", () => {
  const dead: EarlierContext = { recordedInMedusa: false, retryable: false };
  const alive: EarlierContext = { recordedInMedusa: false, retryable: true };
  const recorded: EarlierContext = { recordedInMedusa: true, retryable: false };
  it.each<[string, RowView, EarlierContext | null, Parameters<typeof decideEarlier>[3], ReturnType<typeof decideEarlier>]>([
    ["refused by Klarna: settled", row({ status: "failed" }), null, start, { do: "ignore" }],
    ["never sent: settled", row({ keySent: false }), null, start, { do: "ignore" }],
    ["made and recorded: settled", row({ status: "succeeded", klarnaRefundId: "r1", medusa: "recorded" }), null, start, { do: "ignore" }],
    ["made and adopted: settled", row({ status: "succeeded", klarnaRefundId: "r1", medusa: "adopted" }), null, start, { do: "ignore" }],
    ["made, Medusa not read yet", row({ status: "succeeded", klarnaRefundId: "r1" }), null, start, { do: "read_medusa" }],
    ["made, Medusa had recorded it after all", row({ status: "succeeded", klarnaRefundId: "r1" }), recorded, start, { do: "mark_recorded" }],
    [
      "made, unrecorded, can be retried (a requested return)",
      row({ status: "succeeded", klarnaRefundId: "r1", medusa: "not_recorded" }),
      alive,
      start,
      { do: "refuse", reason: "record_earlier_first", refundId: "r1" },
    ],
    [
      "made, unrecorded, its return cancelled, same amount: adopted",
      row({ status: "succeeded", klarnaRefundId: "r1", medusa: "not_recorded" }),
      dead,
      start,
      { do: "adopt", refundId: "r1" },
    ],
    [
      "made, unrecorded, its return cancelled, another amount",
      row({ status: "succeeded", klarnaRefundId: "r1", medusa: "not_recorded", amount: 999 }),
      dead,
      start,
      { do: "refuse", reason: "record_earlier_first", refundId: "r1" },
    ],
    ["unknown outcome: look", row({ status: "unknown" }), null, start, { do: "look" }],
    [
      "unknown outcome, Klarna made it",
      row({ status: "unknown" }),
      null,
      { kind: "order", refund: { id: "r1", amount: 2618 } },
      { do: "mark_made", refundId: "r1" },
    ],
    [
      "unknown outcome, not on the order, sent long ago",
      row({ status: "unknown", lastSentAgeS: 600 }),
      null,
      { kind: "order" },
      { do: "mark_not_made" },
    ],
    [
      "unknown outcome, not on the order, sent moments ago",
      row({ status: "unknown", lastSentAgeS: 2 }),
      null,
      { kind: "order" },
      { do: "refuse", reason: "earlier_in_flight", retryAfterS: IN_FLIGHT_GRACE_S - 2 },
    ],
    [
      "unknown outcome, Klarna unreachable",
      row({ status: "unknown" }),
      null,
      { kind: "order_unavailable" },
      { do: "refuse", reason: "order_unavailable" },
    ],
  ])("%s", (_what, r, ctx, observation, expected) => {
    expect(decideEarlier(r, intent, ctx, observation)).toEqual(expected);
  });
});

describe("decideRetry: the intent's own earlier attempt, before it is retried", () => {
  const notRecorded: EarlierContext = { recordedInMedusa: false, retryable: true };
  const recorded: EarlierContext = { recordedInMedusa: true, retryable: true };
  const onOrder = { kind: "order" as const, refund: { id: "r1", amount: 2618 } };
  it.each<[string, RowView, EarlierContext | null, Parameters<typeof decideRetry>[2], ReturnType<typeof decideRetry>]>([
    ["refused by Klarna: retried", row({ status: "failed" }), null, start, { do: "retry" }],
    ["never sent: retried", row({ keySent: false }), null, start, { do: "retry" }],
    ["made and recorded: retried (decide refuses the duplicate)", row({ status: "succeeded", medusa: "recorded" }), null, start, { do: "retry" }],
    ["made and taken over: retried (decide refuses the duplicate)", row({ status: "succeeded", medusa: "adopted" }), null, start, { do: "retry" }],
    ["made, Medusa's outcome never written: read Medusa", row({ status: "succeeded" }), null, start, { do: "read_medusa" }],
    [
      "made, rolled back by its status: Medusa read all the same",
      row({ status: "succeeded", medusa: "not_recorded" }),
      null,
      start,
      { do: "read_medusa" },
    ],
    ["sent, end never written: read Medusa", row(), null, start, { do: "read_medusa" }],
    ["unknown outcome: read Medusa", row({ status: "unknown" }), null, start, { do: "read_medusa" }],
    ["made, Medusa has not recorded it: retried (the key replays it)", row({ status: "succeeded" }), notRecorded, start, { do: "retry" }],
    ["sent, Medusa has not recorded it: retried with its key", row(), notRecorded, start, { do: "retry" }],
    ["made, Medusa committed it after all", row({ status: "succeeded", medusa: "not_recorded" }), recorded, start, { do: "mark_recorded" }],
    ["sent, Medusa committed it: look at Klarna's order", row(), recorded, start, { do: "look" }],
    ["sent, Medusa committed it, Klarna's order shows it", row(), recorded, onOrder, { do: "mark_made", refundId: "r1" }],
    [
      "sent, Medusa committed it, Klarna unreadable",
      row({ status: "unknown" }),
      recorded,
      { kind: "order_unavailable" },
      { do: "refuse", reason: "order_unavailable" },
    ],
    ["sent, Medusa committed it, not on Klarna's order", row(), recorded, { kind: "order" }, { do: "refuse", reason: "recorded_not_on_order" }],
  ])("%s", (_what, r, ctx, observation, expected) => {
    expect(decideRetry(r, ctx, observation)).toEqual(expected);
  });
});

// ---- the property: Klarna refunds an intent at most once, Medusa records only what Klarna made ----

type Fault = "none" | "drop_before" | "drop_after" | "refused" | "late_409" | "late_404" | "late_401" | "lost_201_id" | "order_unreadable";

type SimRow = RowView & { key: string; keyAt: number | null; lastSentAt: number | null };

interface Model {
  now: number;
  /** Klarna's refunds of this intent's reference. */
  refunds: Array<{ id: string; amount: number; key: string }>;
  /** Keys Klarna remembers: key → refund id, and when. */
  keys: Map<string, { refundId: string; at: number }>;
  row: SimRow | null;
  medusaRecorded: Array<{ refundId: string; amount: number }>;
  seq: number;
}

const TTL_S = 24 * 3600;

const viewOf = (m: Model): RowView | null =>
  m.row && {
    ...m.row,
    keyAgeS: m.row.keyAt === null ? null : m.now - m.row.keyAt,
    lastSentAgeS: m.row.lastSentAt === null ? null : m.now - m.row.lastSentAt,
  };
const orderOf = (m: Model, faults: Fault[]): OrderLook | { kind: "order_unavailable" } => {
  if (faults.includes("order_unreadable")) return { kind: "order_unavailable" };
  const r = m.refunds[m.refunds.length - 1];
  return { kind: "order", refund: r && { id: r.id, amount: r.amount } };
};

/** Before an attempt, its own earlier row is settled against Medusa's rows and Klarna's order (decideRetry). False: refused. */
function settleRetry(m: Model, faults: Fault[]): boolean {
  let ctx: EarlierContext | null = null;
  let observation: Parameters<typeof decideRetry>[2] = { kind: "start" };
  for (let step = 0; m.row && step < 8; step++) {
    const d = decideRetry(viewOf(m)!, ctx, observation);
    switch (d.do) {
      case "retry":
        return true;
      case "read_medusa":
        ctx = { recordedInMedusa: m.medusaRecorded.length > 0, retryable: true };
        continue;
      case "mark_recorded":
        m.row = { ...m.row, medusa: "recorded" };
        return true;
      case "look":
        observation = orderOf(m, faults);
        continue;
      case "mark_made":
        m.row = { ...m.row, status: "succeeded", klarnaRefundId: d.refundId };
        observation = { kind: "start" };
        continue;
      case "refuse":
        return false;
    }
  }
  return true;
}

/** One attempt of the intent, driven only by decide(); returns what Medusa would record (or nothing). */
function attempt(m: Model, amount: number, faults: Fault[]): { refundId: string } | undefined {
  const view = () => viewOf(m);
  const readOrder = (): Observation => orderOf(m, faults);
  let d = decide(view(), { amount }, { kind: "start" });
  let fault = 0;
  for (let step = 0; step < 10; step++) {
    switch (d.do) {
      case "send": {
        let r: SimRow =
          !m.row || d.key === "new"
            ? {
                ...row({ keySent: false, keyAgeS: null, lastSentAgeS: null }),
                ...(m.row ?? {}),
                status: "pending",
                key: `k${++m.seq}`,
                keyAt: m.now,
                lastSentAt: null,
                amount,
              }
            : m.row;
        const hadUnknown = r.status === "unknown" || (d.key === "keep" && r.keySent);
        r = { ...r, amount, keySent: true, keyAt: r.keyAt ?? m.now, lastSentAt: m.now };
        m.row = r;
        const f = faults[fault++] ?? "none";
        // Klarna: a key it remembers replays its refund; otherwise it refunds (unless the request never arrives or is refused).
        let made: string | undefined;
        const remembered = m.keys.get(r.key);
        if (remembered && m.now - remembered.at < TTL_S) made = remembered.refundId;
        else if (f !== "drop_before" && f !== "refused") {
          made = `r${++m.seq}`;
          m.refunds.push({ id: made, amount, key: r.key });
          m.keys.set(r.key, { refundId: made, at: m.now });
        }
        let obs: Observation;
        if (f === "none" && made) obs = { kind: "answer", outcome: "created", refundId: made };
        else if (f === "lost_201_id" && made) obs = { kind: "answer", outcome: "acted_without_id" };
        else if (f === "refused" && !made) obs = { kind: "answer", outcome: "refused", afterUnknown: hadUnknown };
        else if (f === "late_409" || f === "late_404" || f === "late_401") obs = { kind: "answer", outcome: "refused", afterUnknown: true };
        else if (made && f === "refused") obs = { kind: "answer", outcome: "created", refundId: made };
        else obs = { kind: "answer", outcome: "unknown" };
        d = decide(view(), { amount }, obs);
        if (d.do === "fail" && d.status === "failed") {
          m.row = { ...r, status: "failed" };
          return undefined;
        }
        if (d.do === "look") m.row = { ...r, status: "unknown" };
        continue;
      }
      case "look":
        d = decide(view(), { amount }, readOrder(), d.phase);
        continue;
      case "succeed":
        m.row = { ...m.row!, status: "succeeded", klarnaRefundId: d.refundId };
        return { refundId: d.refundId };
      case "fail":
      case "refuse":
        return undefined;
    }
  }
  return undefined;
}

it("over random faults, retries, rollbacks, lost ends, changed amounts and days passing: one Klarna refund per intent, and Medusa records only what Klarna made", () => {
  const fault = fc.constantFrom<Fault>(
    "none",
    "drop_before",
    "drop_after",
    "refused",
    "late_409",
    "late_404",
    "late_401",
    "lost_201_id",
    "order_unreadable",
  );
  const step = fc.record({
    faults: fc.array(fault, { maxLength: 3 }),
    amount: fc.constantFrom(2618, 2618, 2618, 2500),
    rollback: fc.boolean(),
    // The request's end (what Klarna made, what Medusa did) is never written: the process dies after Medusa's answer.
    endLost: fc.boolean(),
    waitS: fc.constantFrom(0, 5, 60, 3600, 25 * 3600),
  });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
      const m: Model = { now: 0, refunds: [], keys: new Map(), row: null, medusaRecorded: [], seq: 0 };
      for (const s of [...steps, { faults: [] as Fault[], amount: steps[0].amount, rollback: false, endLost: false, waitS: 60 }]) {
        m.now += s.waitS;
        // Medusa asks again whatever the ledger says (a manual refund, a fee give-back clicked again).
        const before = m.row;
        const out = settleRetry(m, s.faults) ? attempt(m, s.amount, s.faults) : undefined;
        if (out && m.row) {
          if (!s.rollback) m.medusaRecorded.push({ refundId: out.refundId, amount: m.row.amount });
          if (s.endLost) {
            // Inside a request a refund Klarna made is written with the request's end: the row keeps its sent key.
            const made = before?.status === "succeeded";
            m.row = {
              ...m.row,
              status: made ? "succeeded" : "pending",
              klarnaRefundId: made ? m.row.klarnaRefundId : null,
              medusa: before?.medusa ?? null,
            };
          } else m.row = { ...m.row, medusa: s.rollback ? "not_recorded" : "recorded" };
        }
        // Invariants after every step.
        if (m.refunds.length > 1) return false;
        for (const r of m.medusaRecorded) if (!m.refunds.some((k) => k.id === r.refundId && k.amount === r.amount)) return false;
        if (m.medusaRecorded.length > 1) return false;
      }
      return true;
    }),
    { numRuns: 3000 },
  );
});
