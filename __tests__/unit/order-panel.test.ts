import { formatMoney as money } from "../../src/klarna/money";
import { canExtendAuthorization, expiryOf, panelRefund } from "../../src/medusa/order-panel";
import { parseOptions } from "../../src/medusa/options";

/** The admin panel's pure parts: when an authorisation counts as expiring, amounts, refund rows. */
describe("the panel's authorisation expiry", () => {
  const now = new Date("2026-01-10T12:00:00Z");
  const order = (expires_at: string, remaining = 5000) => ({ expires_at, remaining_authorized_amount: remaining }) as any;

  it.each([
    ["28 days left", "2026-02-07T12:00:00Z", { state: "ok", days_left: 28 }],
    ["8 days left", "2026-01-18T12:00:00Z", { state: "ok", days_left: 8 }],
    ["7 days left: near", "2026-01-17T12:00:00Z", { state: "near", days_left: 7 }],
    ["a few hours left: near", "2026-01-10T18:00:00Z", { state: "near", days_left: 1 }],
    ["expired an hour ago", "2026-01-10T11:00:00Z", { state: "past", days_left: 0 }],
  ])("%s", (_name, expires, expected) => {
    expect(expiryOf(order(expires), now)).toEqual(expected);
  });

  it("is not shown when nothing is left to capture", () => {
    expect(expiryOf(order("2026-01-11T12:00:00Z", 0), now)).toBeNull();
  });

  it("is past when Klarna says the order expired (its remaining amount is then 0)", () => {
    expect(expiryOf({ ...order("2026-01-11T12:00:00Z", 0), status: "EXPIRED" }, now)).toEqual({ state: "past", days_left: 0 });
  });
});

describe("when the panel offers to extend the authorisation", () => {
  const now = new Date("2026-01-10T12:00:00Z");
  const later = "2026-01-20T12:00:00Z";
  const earlier = "2026-01-10T11:00:00Z";
  it.each([
    ["authorised, nothing captured", "AUTHORIZED", 10115, later, true],
    ["part captured, the rest authorised", "PART_CAPTURED", 3000, later, true],
    ["fully captured", "CAPTURED", 0, later, false],
    ["part captured, the rest released", "PART_CAPTURED", 0, later, false],
    ["expired (Klarna says so)", "EXPIRED", 0, earlier, false],
    ["past expires_at, Klarna not yet updated", "AUTHORIZED", 10115, earlier, false],
    ["cancelled", "CANCELLED", 0, later, false],
    ["closed", "CLOSED", 0, later, false],
  ] as const)("%s: %s", (_name, status, remaining, expires_at, offered) => {
    expect(canExtendAuthorization({ status, remaining_authorized_amount: remaining, expires_at }, now)).toBe(offered);
  });

  it("not when Klarna's order could not be read", () => {
    expect(canExtendAuthorization(undefined, now)).toBe(false);
  });
});

describe("amounts in the plugin's messages (formatMoney)", () => {
  it.each([
    [2618, "eur", "26.18 EUR"],
    [-357, "EUR", "-3.57 EUR"],
    [1500, "jpy", "1500 JPY"],
    [12345, "xxz", "123.45 XXZ"],
  ])("%d %s → %s", (amount, currency, text) => {
    expect(money(amount, currency)).toBe(text);
  });
});

describe("a ledger row as the panel shows it", () => {
  const row = (over: Record<string, unknown>) =>
    ({
      id: "5f0c6a43-9a4e-4a43-9a57-6f0f0f0f0f0f",
      klarna_order_id: "k1",
      intent: "return:ret_1",
      kind: "return",
      resource_id: "ret_1",
      order_id: "order_1",
      source: "request:receive-return",
      idempotency_key: "0b8e9c2a-2a3e-4c1b-9d7e-1f2e3d4c5b6a",
      amount: 2618,
      currency_code: "eur",
      request: null,
      status: "succeeded",
      klarna_refund_id: "r1",
      correlation_id: null,
      error: null,
      notes: null,
      attempts: 1,
      key_first_sent_at: null,
      claimed_by: null,
      claimed_until: null,
      created_at: new Date("2026-01-10T12:00:00Z"),
      updated_at: new Date("2026-01-10T12:00:01Z"),
      ...over,
    }) as any;

  it("marks the withheld return fee line, and a discount-line fallback too", () => {
    const fee = panelRefund(
      row({
        request: {
          refunded_amount: 2618,
          order_lines: [
            { name: "Tee", type: "physical", reference: "TEE", quantity: 1, unit_price: 2975, total_amount: 2975 },
            { name: "Return label", type: "discount", reference: "return-fee", quantity: 1, unit_price: -357, total_amount: -357 },
          ],
        },
      }),
    );
    expect(fee.lines.map((l) => l.is_return_fee)).toEqual([false, true]);
    expect(fee.return_fee).toEqual({ amount: 357, line_type: "discount" });
  });

  it("words a Klarna refusal with the one error mapper and keeps its references", () => {
    const failed = panelRefund(
      row({
        status: "failed",
        klarna_refund_id: null,
        error: { status: 403, error_code: "REFUND_NOT_ALLOWED", error_messages: ["Over refund is not allowed."], correlation_id: "c-1" },
      }),
    );
    expect(failed.error).toEqual({
      message: "Klarna refused the refund: Over refund is not allowed. The amount is more than what is captured and not yet refunded at Klarna",
      code: "REFUND_NOT_ALLOWED",
      correlation_id: "c-1",
      http_status: 403,
    });
  });

  it.each([
    ["order_refund", "manual", "Manual refund"],
    ["payment_refund", "manual", "Manual refund"],
    ["unattributed", "manual", "Refund (amount only)"],
    ["claim", "claim", "Claim ret_1"],
    ["swap", "swap", "Exchange ret_1"],
    ["fee_waiver", "fee_waiver", "Return fee of ret_1"],
    ["adoption", "adoption", "Recorded Klarna refund r1"],
  ])("kind %s is purpose %s, labelled %s", (kind, purpose, label) => {
    expect(panelRefund(row({ kind }))).toMatchObject({ purpose, label });
  });
});

it("the options accept enableUI, which @medusajs/admin reads to include the panel", () => {
  expect(parseOptions({ username: "u", password: "p", enableUI: true }).enableUI).toBe(true);
  expect(() => parseOptions({ username: "u", password: "p", enableUI: "yes" })).toThrow("enableUI: Expected boolean, received string");
});
