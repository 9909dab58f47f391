import fc from "fast-check";
import { divRound, lineArithmeticProblem, lineTotal, taxOf } from "../../src/klarna/order-lines";

describe("Klarna's tax formula", () => {
  it.each([
    // total, rate, tax  (Klarna: total − total × 10000 / (10000 + rate))
    [10000, 2500, 2000],
    [11900, 1900, 1900],
    [8989, 1900, 1435], // 8989 × 1900 / 11900 = 1435.2
    [-500, 1900, -80], // a negative return fee carries negative tax
    [-595, 1900, -95],
    [1, 2500, 0],
    [3, 2500, 1], // 0.6 rounds up
    [0, 2500, 0],
    [10000, 0, 0],
  ])("taxOf(%i, %i) = %i", (total, rate, tax) => {
    expect(taxOf(total, rate)).toBe(tax);
  });

  it("is within Klarna's ±1 of the exact formula for every integer input, and symmetric in sign", () => {
    fc.assert(
      fc.property(fc.integer({ min: -200_000_000, max: 200_000_000 }), fc.integer({ min: 0, max: 10000 }), (total, rate) => {
        const exact = total - (total * 10000) / (10000 + rate);
        const tax = taxOf(total, rate);
        expect(Number.isInteger(tax)).toBe(true);
        expect(Math.abs(tax - exact)).toBeLessThanOrEqual(0.5 + 1e-9);
        expect(taxOf(-total, rate) + tax).toBe(0);
        expect(Object.is(tax, -0)).toBe(false);
      }),
      { numRuns: 10000 },
    );
  });

  it("divRound rounds half away from zero", () => {
    expect(divRound(5, 2)).toBe(3);
    expect(divRound(-5, 2)).toBe(-3);
    expect(divRound(4, 3)).toBe(1);
    expect(divRound(-4, 3)).toBe(-1);
    expect(() => divRound(1, 0)).toThrow(RangeError);
  });
});

describe("line arithmetic", () => {
  it("total_amount = quantity × unit_price − total_discount_amount", () => {
    expect(lineTotal({ quantity: 3, unit_price: 1000, total_discount_amount: 500 })).toBe(2500);
    expect(lineArithmeticProblem({ quantity: 3, unit_price: 1000, total_discount_amount: 500, total_amount: 2500 })).toBeUndefined();
    expect(lineArithmeticProblem({ quantity: 3, unit_price: 1000, total_amount: 2500 })).toEqual({
      field: "total_amount",
      expected: 3000,
      actual: 2500,
    });
  });

  it("reproduces Klarna's real rejection (tax differs from the calculated value by more than 1)", () => {
    const p = lineArithmeticProblem({ quantity: 1, unit_price: -14950, total_amount: -14950, tax_rate: 2500, total_tax_amount: -2992 });
    expect(p).toEqual({ field: "total_tax_amount", expected: -2990, actual: -2992 });
    expect(lineArithmeticProblem({ quantity: 1, unit_price: -14950, total_amount: -14950, tax_rate: 2500, total_tax_amount: -2991 })).toBeUndefined();
  });

  it("the float bug of mature integrations cannot happen: 89.89 is 8989 minor units, never 8900", () => {
    // Amounts are integers end to end; the formula never sees a float price.
    expect(taxOf(8989, 2500)).toBe(1798);
    expect(lineTotal({ quantity: 1, unit_price: 8989 })).toBe(8989);
  });
});
