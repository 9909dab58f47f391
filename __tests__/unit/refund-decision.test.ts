import fc from "fast-check";
import {
  decide,
  decideEarlier,
  Decision,
  EarlierContext,
  IN_FLIGHT_GRACE_S,
  KEY_SAFE_AGE_S,
  Observation,
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
      { do: "mark_made", refundId: "r1", amount: 2618 },
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

/** One attempt of the intent, driven only by decide(); returns what Medusa would record (or nothing). */
function attempt(m: Model, amount: number, faults: Fault[]): { refundId: string } | undefined {
  const view = (): RowView | null =>
    m.row && {
      ...m.row,
      keyAgeS: m.row.keyAt === null ? null : m.now - m.row.keyAt,
      lastSentAgeS: m.row.lastSentAt === null ? null : m.now - m.row.lastSentAt,
    };
  const readOrder = (): Observation => {
    if (faults.includes("order_unreadable")) return { kind: "order_unavailable" };
    const r = m.refunds[m.refunds.length - 1];
    return { kind: "order", refund: r && { id: r.id, amount: r.amount } };
  };
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

it("over random faults, retries, rollbacks, changed amounts and days passing: one Klarna refund per intent, and Medusa records only what Klarna made", () => {
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
    waitS: fc.constantFrom(0, 5, 60, 3600, 25 * 3600),
  });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
      const m: Model = { now: 0, refunds: [], keys: new Map(), row: null, medusaRecorded: [], seq: 0 };
      for (const s of [...steps, { faults: [] as Fault[], amount: steps[0].amount, rollback: false, waitS: 60 }]) {
        m.now += s.waitS;
        const recorded = m.row?.medusa === "recorded";
        const out = recorded ? undefined : attempt(m, s.amount, s.faults);
        if (out && m.row) {
          if (s.rollback) m.row = { ...m.row, medusa: "not_recorded" };
          else {
            m.row = { ...m.row, medusa: "recorded" };
            m.medusaRecorded.push({ refundId: out.refundId, amount: m.row.amount });
          }
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
