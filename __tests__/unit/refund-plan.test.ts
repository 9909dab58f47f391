import fc from "fast-check";
import { lineArithmeticProblem, planRefund, RefundPlanError, RefundPlanInput, sumTotals } from "../../src";
import { refundObject } from "../../src/emulator/rules";
import { specProblems } from "../support/openapi";

const DE = { currency: "EUR", purchaseCountry: "DE", captureCount: 1 };

describe("planRefund: tables", () => {
  it("Klarna's own sample: a 10000 T-shirt with a 500 fee refunds 9500", () => {
    const plan = planRefund({
      ...DE,
      refundAmount: 9500,
      items: [{ name: "T-Shirt", quantity: 1, unitPrice: 10000, taxRate: 0 }],
      returnShipping: { name: "Return fee", amount: 500, taxRate: 0 },
      reference: "1786c73b-a2be-4d42-a9f7-ff1c4bca5ccc",
      description: "Description of the refund shown to the customer",
    });
    expect(plan).toEqual({
      refunded_amount: 9500,
      reference: "1786c73b-a2be-4d42-a9f7-ff1c4bca5ccc",
      description: "Description of the refund shown to the customer",
      order_lines: [
        { name: "T-Shirt", type: "physical", quantity: 1, unit_price: 10000, tax_rate: 0, total_amount: 10000, total_tax_amount: 0 },
        {
          name: "Return fee",
          type: "return_fee",
          reference: "return-fee",
          quantity: 1,
          unit_price: -500,
          tax_rate: 0,
          total_amount: -500,
          total_tax_amount: 0,
        },
      ],
    });
  });

  it("a DE return with 19 % tax, a discount and a taxed return-shipping fee", () => {
    const plan = planRefund({
      ...DE,
      refundAmount: 2 * 2500 - 500 + 1190 - 357,
      items: [
        { name: "Hoodie", reference: "HD-M", quantity: 2, unitPrice: 2500, taxRate: 1900, discount: 500 },
        { name: "Cap", reference: "CP-1", quantity: 1, unitPrice: 1190, taxRate: 1900 },
      ],
      returnShipping: { name: "Return label (DHL)", amount: 357, taxRate: 1900 },
    });
    expect(plan.order_lines).toEqual([
      {
        name: "Hoodie",
        type: "physical",
        reference: "HD-M",
        quantity: 2,
        unit_price: 2500,
        tax_rate: 1900,
        total_amount: 4500,
        total_discount_amount: 500,
        total_tax_amount: 718,
      },
      { name: "Cap", type: "physical", reference: "CP-1", quantity: 1, unit_price: 1190, tax_rate: 1900, total_amount: 1190, total_tax_amount: 190 },
      {
        name: "Return label (DHL)",
        type: "return_fee",
        reference: "return-fee",
        quantity: 1,
        unit_price: -357,
        tax_rate: 1900,
        total_amount: -357,
        total_tax_amount: -57,
      },
    ]);
    expect(sumTotals(plan.order_lines!)).toBe(plan.refunded_amount);
  });

  it("the fee is what the refund withholds, not the shipping option's price (the admin edited the refund)", () => {
    const items = [{ name: "Shoe", quantity: 1, unitPrice: 8989, taxRate: 1900 }];
    const shipping = { name: "Return shipping", amount: 500, taxRate: 1900 };
    const down = planRefund({ ...DE, refundAmount: 8000, items, returnShipping: shipping });
    // A return fee is the return-shipping charge at most: the rest of what is withheld is an adjustment of its own.
    expect(down.order_lines!.map((l) => [l.type, l.reference, l.total_amount])).toEqual([
      ["physical", undefined, 8989],
      ["return_fee", "return-fee", -500],
      ["discount", "refund-adjustment", -489],
    ]);
    const smaller = planRefund({ ...DE, refundAmount: 8700, items, returnShipping: shipping });
    expect(smaller.order_lines!.map((l) => [l.type, l.total_amount])).toEqual([
      ["physical", 8989],
      ["return_fee", -289],
    ]);
    const full = planRefund({ ...DE, refundAmount: 8989, items, returnShipping: shipping });
    expect(full.order_lines!.map((l) => l.type)).toEqual(["physical"]); // no zero-amount fee line
    const up = planRefund({ ...DE, refundAmount: 9489, items, returnShipping: shipping });
    expect(up.order_lines!.map((l) => [l.name, l.total_amount])).toEqual([
      ["Shoe", 8989],
      ["Additional refund", 500],
    ]);
  });

  it("the fee is never subtracted twice (a lesson of mature integrations)", () => {
    const plan = planRefund({
      ...DE,
      refundAmount: 9500,
      items: [{ name: "T", quantity: 1, unitPrice: 10000, taxRate: 0 }],
      returnShipping: { name: "Fee", amount: 500, taxRate: 0 },
    });
    expect(plan.refunded_amount).toBe(9500);
    expect(plan.order_lines!.filter((l) => l.total_amount < 0).map((l) => l.total_amount)).toEqual([-500]);
  });

  describe("where Klarna allows no return fee", () => {
    const base: RefundPlanInput = {
      currency: "USD",
      purchaseCountry: "US",
      captureCount: 1,
      refundAmount: 9500,
      items: [{ name: "T-Shirt", quantity: 1, unitPrice: 10000, taxRate: 0 }],
      returnShipping: { name: "Return shipping", amount: 500, taxRate: 0 },
    };
    it("default: a negative discount line named after the return shipping", () => {
      expect(planRefund(base).order_lines!.map((l) => [l.name, l.type, l.total_amount])).toEqual([
        ["T-Shirt", "physical", 10000],
        ["Return shipping", "discount", -500],
      ]);
    });
    it("twice captured in a fee market behaves the same", () => {
      expect(planRefund({ ...base, purchaseCountry: "DE", captureCount: 2 }).order_lines!.map((l) => l.type)).toEqual(["physical", "discount"]);
    });
    it("amount_only: no lines", () => {
      expect(planRefund({ ...base, options: { returnFeeFallback: "amount_only" } })).toEqual({ refunded_amount: 9500 });
    });
    it("reject: a typed error explaining why", () => {
      expect(() => planRefund({ ...base, options: { returnFeeFallback: "reject" } })).toThrow(RefundPlanError);
      expect(() => planRefund({ ...base, options: { returnFeeFallback: "reject" } })).toThrow(/market US, 1 capture\(s\)/);
    });
    it("the market list is an option", () => {
      expect(planRefund({ ...base, options: { returnFeeMarkets: ["US"] } }).order_lines!.map((l) => l.type)).toEqual(["physical", "return_fee"]);
    });
  });

  it("zero-priced items (and fully discounted ones) are not sent; nothing divides by zero", () => {
    const plan = planRefund({
      ...DE,
      refundAmount: 1000,
      items: [
        { name: "Free sticker", quantity: 3, unitPrice: 0, taxRate: 1900 },
        { name: "Gift", quantity: 1, unitPrice: 500, taxRate: 1900, discount: 500 },
        { name: "Mug", quantity: 1, unitPrice: 1000, taxRate: 0 },
      ],
    });
    expect(plan.order_lines!.map((l) => l.name)).toEqual(["Mug"]);
  });

  it("long names and references are cut to Klarna's 255", () => {
    const plan = planRefund({
      ...DE,
      refundAmount: 100,
      items: [{ name: "n".repeat(400), reference: "r".repeat(300), quantity: 1, unitPrice: 100, taxRate: 0 }],
      description: "d".repeat(300),
    });
    expect(plan.order_lines![0].name).toHaveLength(255);
    expect(plan.order_lines![0].reference).toHaveLength(255);
    expect(plan.description).toHaveLength(255);
  });

  it("more than 1000 items fold into per-tax-rate lines and still add up", () => {
    const items = Array.from({ length: 1500 }, (_, i) => ({ name: `Item ${i}`, quantity: 1, unitPrice: 100 + i, taxRate: i % 2 ? 1900 : 700 }));
    const value = items.reduce((s, i) => s + i.unitPrice, 0);
    const plan = planRefund({ ...DE, refundAmount: value - 300, items, returnShipping: { name: "Return", amount: 300, taxRate: 1900 } });
    expect(plan.order_lines!.length).toBeLessThanOrEqual(1000);
    expect(sumTotals(plan.order_lines!)).toBe(value - 300);
    expect(plan.order_lines!.filter((l) => l.name.startsWith("Other returned items")).length).toBe(2);
    expect(plan.order_lines!.at(-1)!.type).toBe("return_fee");
  });

  it.each([
    ["a negative quantity", { items: [{ name: "x", quantity: -1, unitPrice: 100, taxRate: 0 }] }, "items[0].quantity"],
    ["a fractional price (89.89 instead of 8989)", { items: [{ name: "x", quantity: 1, unitPrice: 89.89, taxRate: 0 }] }, "items[0].unitPrice"],
    ["a negative unit price", { items: [{ name: "x", quantity: 1, unitPrice: -100, taxRate: 0 }] }, "items[0].unitPrice"],
    ["a discount larger than the line", { items: [{ name: "x", quantity: 1, unitPrice: 100, taxRate: 0, discount: 101 }] }, "items[0].discount"],
    ["a tax rate over 100 %", { items: [{ name: "x", quantity: 1, unitPrice: 100, taxRate: 10001 }] }, "items[0].taxRate"],
    ["a negative refund", { refundAmount: -1 }, "refundAmount"],
    ["a fractional refund", { refundAmount: 10.5 }, "refundAmount"],
    ["an amount past Klarna's maximum", { refundAmount: 200_000_001 }, "refundAmount"],
    ["a bad country", { purchaseCountry: "Germany" }, "purchaseCountry"],
    ["a bad currency", { currency: "€" }, "currency"],
    ["a fractional shipping charge", { returnShipping: { name: "r", amount: 1.5, taxRate: 0 } }, "returnShipping.amount"],
  ])("refuses %s with a typed error naming the field", (_what, patch, field) => {
    const input = { ...DE, refundAmount: 100, items: [{ name: "x", quantity: 1, unitPrice: 100, taxRate: 0 }], ...patch } as RefundPlanInput;
    let error: unknown;
    try {
      planRefund(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RefundPlanError);
    expect((error as RefundPlanError).field).toBe(field);
  });
});

// ---- properties ---------------------------------------------------------------------------------

const taxRate = fc.oneof(fc.constantFrom(0, 700, 1000, 1900, 2000, 2100, 2500), fc.integer({ min: 0, max: 10000 }));
const item = fc
  .record({
    name: fc.string({ maxLength: 300 }),
    reference: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
    quantity: fc.integer({ min: 0, max: 20 }),
    unitPrice: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.constant(0), fc.integer({ min: 0, max: 2_000_000 })),
    taxRate,
    discountShare: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ discountShare, ...i }) => ({ ...i, discount: Math.floor(i.quantity * i.unitPrice * discountShare * (discountShare < 0.5 ? 0 : 1)) }));

const returnInput: fc.Arbitrary<RefundPlanInput> = fc
  .record({
    items: fc.array(item, { minLength: 0, maxLength: 12 }),
    shipping: fc.option(fc.record({ name: fc.string({ maxLength: 40 }), amount: fc.integer({ min: 0, max: 5000 }), taxRate }), { nil: undefined }),
    adminDelta: fc.integer({ min: -3000, max: 3000 }),
    editedByAdmin: fc.boolean(),
    purchaseCountry: fc.constantFrom("DE", "SE", "AT", "US", "GB", "IT"),
    captureCount: fc.integer({ min: 0, max: 3 }),
    fallback: fc.constantFrom("discount_line" as const, "amount_only" as const, "reject" as const),
  })
  .map(({ items, shipping, adminDelta, editedByAdmin, purchaseCountry, captureCount, fallback }) => {
    const value = items.reduce((s, i) => s + i.quantity * i.unitPrice - i.discount, 0);
    const medusa = value - (shipping?.amount ?? 0); // Medusa's own formula: items minus return shipping
    const refundAmount = Math.max(0, editedByAdmin ? medusa + adminDelta : medusa);
    return {
      refundAmount,
      currency: "EUR",
      purchaseCountry,
      captureCount,
      items,
      returnShipping: shipping,
      options: { returnFeeFallback: fallback },
    };
  });

describe("planRefund: properties over 10 000 generated returns", () => {
  it("lines add up exactly, obey Klarna's arithmetic and limits, and carry no zero amount", () => {
    fc.assert(
      fc.property(returnInput, (input) => {
        let plan;
        try {
          plan = planRefund(input);
        } catch (e) {
          // The only refusal of a well-formed return is the "reject" fallback, and only when a fee is due.
          expect(e).toBeInstanceOf(RefundPlanError);
          expect((e as RefundPlanError).code).toBe("RETURN_FEE_NOT_ALLOWED");
          expect(input.options!.returnFeeFallback).toBe("reject");
          return;
        }
        expect(plan.refunded_amount).toBe(input.refundAmount);
        // Klarna's own schema for refunds (the emulator's, from the OpenAPI spec) accepts it.
        expect(refundObject.safeParse(plan).success).toBe(true);
        const lines = plan.order_lines ?? [];
        if (lines.length) {
          expect(sumTotals(lines)).toBe(plan.refunded_amount);
          expect(lines.length).toBeLessThanOrEqual(1000);
        }
        for (const l of lines) {
          expect(lineArithmeticProblem(l)).toBeUndefined();
          expect(l.total_amount).not.toBe(0);
          expect(l.name.length).toBeLessThanOrEqual(255);
          for (const v of [l.quantity, l.unit_price, l.total_amount, l.total_tax_amount ?? 0, l.total_discount_amount ?? 0]) {
            expect(Number.isSafeInteger(v)).toBe(true);
          }
        }
        const fees = lines.filter((l) => l.type === "return_fee");
        expect(fees.length).toBeLessThanOrEqual(1);
        if (fees.length) {
          expect(input.captureCount).toBe(1);
          expect(["AT", "DE", "DK", "FI", "FR", "NL", "NO", "SE"]).toContain(input.purchaseCountry);
          expect(fees[0].total_amount).toBeLessThan(0);
          // Never more than the return-shipping charge.
          expect(-fees[0].total_amount).toBeLessThanOrEqual(input.returnShipping?.amount ?? 0);
        }
      }),
      { numRuns: 10000 },
    );
  });

  it("every plan also passes Klarna's published OpenAPI schema", () => {
    fc.assert(
      fc.property(returnInput, (input) => {
        try {
          const plan = planRefund(input);
          expect(specProblems("POST", "/ordermanagement/v1/orders/o/refunds", plan)).toEqual([]);
        } catch (e) {
          expect((e as RefundPlanError).code).toBe("RETURN_FEE_NOT_ALLOWED");
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("the withheld amount is exactly the negative lines, and the refund exceeds the items only by the extra line", () => {
    fc.assert(
      fc.property(returnInput, (input) => {
        fc.pre(input.options!.returnFeeFallback === "discount_line");
        const plan = planRefund(input);
        const lines = plan.order_lines ?? [];
        const items = lines.filter((l) => l.type === "physical").reduce((s, l) => s + l.total_amount, 0);
        const withheld = -lines.filter((l) => l.type === "return_fee" || l.type === "discount").reduce((s, l) => s + l.total_amount, 0);
        const extra = lines.filter((l) => l.name === "Additional refund").reduce((s, l) => s + l.total_amount, 0);
        expect(items - withheld + extra).toBe(input.refundAmount);
        expect(withheld === 0 || extra === 0).toBe(true);
      }),
      { numRuns: 10000 },
    );
  });
});
