import { specProblems } from "../support/openapi";
import { SEED_REFUND } from "../support/emulator";

// The spec validator is itself tested: it must accept Klarna's own sample and reject broken bodies,
// or the "every request matches Klarna's spec" checks elsewhere would prove nothing.
describe("Klarna's OpenAPI specs as validators", () => {
  const refunds = "/ordermanagement/v1/orders/abc/refunds";

  it("accepts Klarna's own return-fee sample", () => {
    expect(specProblems("POST", refunds, SEED_REFUND)).toEqual([]);
  });

  it.each([
    ["negative refunded_amount", { refunded_amount: -1 }, "/refunded_amount"],
    ["amount over the maximum", { refunded_amount: 200000001 }, "/refunded_amount"],
    [
      "unknown line type",
      { refunded_amount: 1, order_lines: [{ name: "a", type: "bogus", quantity: 1, unit_price: 1, total_amount: 1 }] },
      "/order_lines/0/type",
    ],
    ["missing total_amount", { refunded_amount: 1, order_lines: [{ name: "a", quantity: 1, unit_price: 1 }] }, "/order_lines/0"],
    ["description too long", { refunded_amount: 1, description: "x".repeat(256) }, "/description"],
    ["fractional amount", { refunded_amount: 1.5 }, "/refunded_amount"],
  ])("rejects %s", (_name, body, where) => {
    const problems = specProblems("POST", refunds, body);
    expect(problems.join("\n")).toContain(where);
  });

  it("checks Payments sessions against session_create", () => {
    expect(specProblems("POST", "/payments/v1/sessions", { purchase_country: "DE" }).length).toBeGreaterThan(0);
    expect(
      specProblems("POST", "/payments/v1/sessions", {
        purchase_country: "DE",
        purchase_currency: "EUR",
        locale: "de-DE",
        order_amount: 100,
        order_lines: [{ name: "a", quantity: 1, unit_price: 100, total_amount: 100 }],
      }),
    ).toEqual([]);
  });
});
