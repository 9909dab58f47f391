import fc from "fast-check";
import { KlarnaApiError } from "../../src/klarna/errors";
import { lineArithmeticProblem, sumTotals } from "../../src/klarna/order-lines";
import { RefundPlanError } from "../../src/klarna/refund-plan";
import { cartOrderLines, sessionFromCart } from "../../src/medusa/cart-lines";
import { klarnaUnitAndDiscount } from "../../src/klarna/order-lines";
import { medusaLineRefund, medusaShippingTotal, medusaUnitGross } from "../../src/medusa/medusa-totals";
import { parseOptions, KlarnaOptionsError } from "../../src/medusa/options";
import { KlarnaPluginRefusal, paymentError } from "../../src/medusa/payment-error";
import { sessionBody, checkSessionAmounts } from "../../src/emulator/rules";

describe("the one error mapper: what the admin reads", () => {
  const klarna = (f: Partial<ConstructorParameters<typeof KlarnaApiError>[0]>) => new KlarnaApiError({ error_code: "X", error_messages: [], ...f });

  it.each([
    [
      "over refund",
      klarna({
        status: 403,
        error_code: "REFUND_NOT_ALLOWED",
        error_messages: ["Over refund is not allowed. Refund not possible."],
        correlation_id: "7863c755",
      }),
      "Klarna refused the refund: Over refund is not allowed. Refund not possible. The amount is more than what is captured and not yet refunded at Klarna",
      "Klarna REFUND_NOT_ALLOWED, correlation 7863c755, HTTP 403",
    ],
    [
      "a refused return fee",
      klarna({ status: 403, error_code: "REFUND_NOT_ALLOWED", error_messages: ["Return fee is not allowed in market US."], correlation_id: "c1" }),
      "Klarna refused the refund: Return fee is not allowed in market US. Klarna allows a return fee only on orders captured in one single full capture, in its return-fee markets. Set the return_fee_fallback option, or refund without a return shipping charge",
      "Klarna REFUND_NOT_ALLOWED, correlation c1, HTTP 403",
    ],
    [
      "a timeout",
      klarna({ error_code: "TIMEOUT", error_messages: ["Klarna did not answer in time."], attempts: 3 }),
      "Klarna did not confirm the refund: Klarna did not answer in time. It is safe to retry: the retry reuses the same idempotency key, so Klarna refunds at most once",
      "Klarna TIMEOUT, 3 attempts",
    ],
    [
      "bad credentials",
      klarna({ status: 401, error_code: "UNAUTHORIZED", error_messages: ["Klarna rejected the API credentials."] }),
      "Klarna refused the refund: Klarna rejected the API credentials. Check the plugin's Klarna username and password, and that they belong to this region and environment",
      "Klarna UNAUTHORIZED, HTTP 401",
    ],
    [
      "a rate limit",
      klarna({ status: 429, error_code: "TOO_MANY_REQUESTS", error_messages: ["Too many requests"], retry_after_s: 30 }),
      "Klarna did not confirm the refund: Too many requests. It is safe to retry: the retry reuses the same idempotency key, so Klarna refunds at most once",
      "Klarna TOO_MANY_REQUESTS, HTTP 429",
    ],
  ])("%s", (_what, err, error, detail) => {
    const out = paymentError("refund", err);
    expect(out).toEqual({ error, code: err.error_code, detail });
  });

  it("every mapped error has all three fields non-empty, or Medusa would count the refund as a success", () => {
    const errors = [
      klarna({ status: 500 }),
      new RefundPlanError("INVALID_INPUT", "items[0].quantity", "must be an integer"),
      new KlarnaPluginRefusal("ALREADY_REFUNDED", "Return ret_1 was already refunded.", { klarna_refund_id: "r1" }),
      new Error("boom"),
      "a string",
    ];
    for (const e of errors) {
      const out = paymentError("capture", e);
      expect(out.error.length).toBeGreaterThan(0);
      expect(out.code.length).toBeGreaterThan(0);
      expect(typeof out.detail).toBe("string");
      expect(out.detail.length).toBeGreaterThan(0);
      expect(out.error).not.toMatch(/\.$/); // Medusa appends ":\n" + detail
    }
  });

  it("gives a hint only where it is true: a refusal of a captured order never says to capture first", () => {
    const refused = (messages: string[]) => klarna({ status: 403, error_code: "REFUND_NOT_ALLOWED", error_messages: messages, correlation_id: "c" });
    expect(paymentError("refund", refused(["Order has no captures. Refund not possible"])).error).toBe(
      "Klarna refused the refund: Order has no captures. Refund not possible. Capture the order before refunding it",
    );
    expect(paymentError("refund", refused(["Refund not allowed."])).error).toBe("Klarna refused the refund: Refund not allowed");
    expect(
      paymentError(
        "capture",
        klarna({ status: 403, error_code: "CAPTURE_NOT_ALLOWED", error_messages: ["Order abc is expired. Capture not possible."] }),
      ).error,
    ).toBe(
      "Klarna refused the capture: Order abc is expired. Capture not possible. Klarna's authorisation has expired: ask the shopper to pay again",
    );
  });

  it("states each sentence once: a timeout's own words carry no retry advice, the hint does", () => {
    const out = paymentError(
      "refund",
      klarna({ error_code: "NETWORK_ERROR", error_messages: ["Klarna could not be reached (ECONNRESET)."], attempts: 3 }),
    );
    expect(out.error.match(/retry/gi)).toHaveLength(2); // "safe to retry: the retry reuses…", once
    expect(out.error).toBe(
      "Klarna did not confirm the refund: Klarna could not be reached (ECONNRESET). It is safe to retry: the retry reuses the same idempotency key, so Klarna refunds at most once",
    );
  });

  it("tells a shopper what happened and what to do, and nothing internal", () => {
    const cases = [
      paymentError(
        "payment session",
        klarna({ status: 503, error_code: "TEMPORARILY_UNAVAILABLE", error_messages: ["Temporarily unavailable"], correlation_id: "c" }),
      ),
      paymentError(
        "purchase",
        klarna({
          status: 401,
          error_code: "UNAUTHORIZED",
          error_messages: ["Klarna rejected the API credentials. Check the plugin's username and password."],
        }),
      ),
      paymentError(
        "purchase",
        klarna({
          status: 409,
          error_code: "CONFLICT",
          error_messages: ["The authorization was already used to place an order."],
          correlation_id: "c",
        }),
      ),
      paymentError(
        "purchase",
        new KlarnaPluginRefusal(
          "TOKEN_NOT_FOR_CART",
          "The token of session s is not this cart's (key 6f1c…).",
          { session_id: "s" },
          "The Klarna payment does not belong to this cart. Please choose Klarna again to pay for this cart",
        ),
      ),
      paymentError("purchase", new Error("database down")),
    ];
    expect(cases.map((c) => c.error)).toEqual([
      "Klarna is not available right now. Please try again in a few minutes, or choose another payment method",
      "Klarna is not available right now. Please try again in a few minutes, or choose another payment method",
      "Klarna could not confirm this purchase. Please choose Klarna again to confirm it, or choose another payment method",
      "The Klarna payment does not belong to this cart. Please choose Klarna again to pay for this cart",
      "Klarna cannot be used for this cart right now. Please try again, or choose another payment method",
    ]);
    for (const c of cases) {
      expect(c.detail).toBe("No money was taken");
      expect(JSON.stringify(c)).not.toMatch(/password|username|credential|idempotency|correlation|session s|database/i);
    }
  });

  it("removes configured secrets from anything it maps", () => {
    const out = paymentError("refund", new Error("connect failed for pw=p4ssw0rd-xyz"), ["p4ssw0rd-xyz"]);
    expect(JSON.stringify(out)).not.toContain("p4ssw0rd-xyz");
    expect(out.error).toContain("********");
  });
});

describe("Medusa 1.20's refund arithmetic (totals.getLineItemRefund, return.create)", () => {
  it.each([
    // unitPrice, ordered, qty, adjustments, rates, includesTax, legacy → Medusa's refund
    [2500, 2, 1, 0, [19], false, null, 2975],
    [2500, 3, 2, 750, [19], false, null, 5355], // 10 % off: 250/unit → (5000-500) × 1.19
    [1999, 2, 1, 400, [7], false, null, 1925], // 1799 + round(125.93)
    [2500, 1, 1, 0, [19], true, null, 2500],
    [1000, 1, 1, 0, [], false, 25, 1250], // the old tax system
    [0, 1, 1, 0, [19], false, null, 0], // a free item: no division by zero
  ])(
    "unit %i, ordered %i, refunded %i, adjustments %i, rates %j, inclusive %s, legacy %s → %i",
    (unitPrice, ordered, qty, adj, rates, inc, legacy, value) => {
      expect(
        medusaLineRefund({
          unitPrice,
          orderedQuantity: ordered,
          quantity: qty,
          adjustmentsTotal: adj,
          taxRates: rates,
          includesTax: inc,
          legacyTaxRate: legacy,
        }),
      ).toBe(value);
    },
  );

  it("return shipping: price plus its tax lines", () => {
    expect(medusaShippingTotal(300, [19], false)).toBe(357);
    expect(medusaShippingTotal(300, [19], true)).toBe(300);
    expect(medusaShippingTotal(0, [19], false)).toBe(0);
  });

  it("a line written as unit price and discount always hits Medusa's value exactly, with a non-negative discount", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500_000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.constantFrom([19], [7], [], [19, 2], [25]),
        fc.boolean(),
        (unitPrice, ordered, extra, rates, inc) => {
          const quantity = Math.min(ordered, 1 + (extra % ordered));
          const spec = {
            unitPrice,
            orderedQuantity: ordered,
            quantity,
            adjustmentsTotal: Math.floor(unitPrice * ordered * (extra / 100)),
            taxRates: rates,
            includesTax: inc,
          };
          const value = medusaLineRefund(spec);
          const { unitPrice: u, discount } = klarnaUnitAndDiscount(value, quantity, medusaUnitGross(spec));
          expect(discount).toBeGreaterThanOrEqual(0);
          if (value > 0) expect(quantity * u - discount).toBe(value);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe("a Medusa cart as Klarna Payments lines", () => {
  const cart = {
    id: "cart_1",
    total: 10115,
    items: [
      { title: "Tee", description: "S", quantity: 2, unit_price: 2500, total: 5950, variant: { sku: "TEE-S" }, tax_lines: [{ rate: 19 }] },
      { title: "Tee", description: "L", quantity: 1, unit_price: 3000, total: 3570, variant: { sku: "TEE-L" }, tax_lines: [{ rate: 19 }] },
    ],
    shipping_methods: [{ price: 500, total: 595, shipping_option: { name: "DHL" }, tax_lines: [{ rate: 19 }] }],
    shipping_address: { country_code: "de" },
    region: { currency_code: "eur" },
  };

  it("items, shipping, amounts Klarna accepts", () => {
    const body = sessionFromCart(cart, 10115, {});
    expect(body).toMatchObject({
      purchase_country: "DE",
      purchase_currency: "EUR",
      locale: "en-DE",
      order_amount: 10115,
      order_tax_amount: 950 + 570 + 95,
      merchant_reference1: "cart_1",
    });
    expect(body.order_lines.map((l) => l.name)).toEqual(["Tee, S", "Tee, L", "DHL"]);
    const parsed = sessionBody.parse(body);
    expect(() => checkSessionAmounts(parsed)).not.toThrow();
  });

  it("a gift card and Medusa's rounding become lines of their own so order_amount still adds up", () => {
    const lines = cartOrderLines({ ...cart, gift_card_total: 1000 }, 9114);
    expect(lines.map((l) => [l.type, l.total_amount])).toEqual([
      ["physical", 5950],
      ["physical", 3570],
      ["shipping_fee", 595],
      ["gift_card", -1000],
      ["discount", -1],
    ]);
    expect(sumTotals(lines)).toBe(9114);
    for (const l of lines) expect(lineArithmeticProblem(l)).toBeUndefined();
  });

  it("refuses a cart without a country", () => {
    expect(() => sessionFromCart({ ...cart, shipping_address: null }, 10115, {})).toThrow("The cart has no country");
  });
});

describe("plugin options", () => {
  it("fills defaults", () => {
    expect(parseOptions({ username: "u", password: "p" })).toMatchObject({
      region: "eu",
      environment: "playground",
      timeout_ms: 10000,
      retries: 2,
      return_fee_fallback: "discount_line",
      return_fee_markets: ["AT", "DE", "DK", "FI", "FR", "NL", "NO", "SE"],
    });
  });

  it("names every bad field and never echoes a value", () => {
    let err: KlarnaOptionsError | undefined;
    try {
      parseOptions({ password: "s3cret-value", region: "moon", return_fee_markets: ["Germany"], base_url: "not a url", extra: 1 });
    } catch (e) {
      err = e as KlarnaOptionsError;
    }
    expect(err).toBeInstanceOf(KlarnaOptionsError);
    expect(err!.problems).toEqual([
      "username: required",
      "region: Invalid enum value. Expected 'eu' | 'na' | 'oc', received 'moon'",
      "base_url: Invalid url",
      "return_fee_markets.0: must be an ISO 3166-1 alpha-2 country code (e.g. DE)",
      "(options): unknown option(s) extra",
    ]);
    expect(err!.message).not.toContain("s3cret-value");
  });

  it("base_url must be http(s), and return-fee markets real ISO 3166 countries", () => {
    expect(() => parseOptions({ username: "u", password: "p", base_url: "ftp://proxy.example" })).toThrow(/base_url: must be an http\(s\) URL/);
    expect(() => parseOptions({ username: "u", password: "p", base_url: "file:///etc/passwd" })).toThrow(/base_url: must be an http\(s\) URL/);
    expect(() => parseOptions({ username: "u", password: "p", return_fee_markets: ["DE", "XX"] })).toThrow(
      /return_fee_markets.1: must be an ISO 3166-1 alpha-2 country code/,
    );
    expect(parseOptions({ username: "u", password: "p", return_fee_markets: ["de", "IT"] }).return_fee_markets).toEqual(["DE", "IT"]);
  });

  it("refuses credentials in base_url and plain http for live", () => {
    expect(() => parseOptions({ username: "u", password: "p", base_url: "https://u:pw@proxy.example" })).toThrow(/must not contain credentials/);
    expect(() => parseOptions({ username: "u", password: "p", environment: "live", base_url: "http://proxy.example" })).toThrow(/must use https/);
  });
});
