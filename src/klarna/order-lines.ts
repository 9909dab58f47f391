/**
 * Klarna's line arithmetic, once, for everyone: the refund planner, the processor and the emulator.
 * Source: Klarna order_line schema ("total_amount = quantity × unit_price − total_discount_amount";
 * "total_tax_amount must be within ±1 of total_amount − total_amount × 10000 / (10000 + tax_rate)").
 */

/** Klarna's tolerance for `total_tax_amount`, in minor units. */
export const TAX_TOLERANCE = 1;

/**
 * The tax contained in a tax-inclusive amount: `total − total × 10000 / (10000 + rate)`, rounded half
 * away from zero. Integer-only (no float drift): computed as round(total × rate / (10000 + rate)).
 */
export function taxOf(totalAmount: number, taxRate: number): number {
  if (!taxRate || !totalAmount) return 0;
  const num = totalAmount * taxRate;
  const den = 10000 + taxRate;
  return divRound(num, den);
}

/** Integer division rounding half away from zero. Exact while |num| < 2^53. */
export function divRound(num: number, den: number): number {
  if (den <= 0) throw new RangeError("divRound: denominator must be positive");
  const sign = num < 0 ? -1 : 1;
  const a = Math.abs(num);
  const q = Math.floor(a / den);
  const r = a - q * den;
  const result = 2 * r >= den ? q + 1 : q;
  return result === 0 ? 0 : sign * result; // never -0
}

/** `quantity × unit_price − total_discount_amount`. */
export function lineTotal(line: { quantity: number; unit_price: number; total_discount_amount?: number }): number {
  return line.quantity * line.unit_price - (line.total_discount_amount ?? 0);
}

export interface LineArithmeticProblem {
  field: "total_amount" | "total_tax_amount";
  expected: number;
  actual: number;
}

/** What is wrong with a line's arithmetic, as Klarna checks it; undefined when it is right. */
export function lineArithmeticProblem(line: {
  quantity: number;
  unit_price: number;
  total_amount: number;
  total_discount_amount?: number;
  tax_rate?: number;
  total_tax_amount?: number;
}): LineArithmeticProblem | undefined {
  const expectedTotal = lineTotal(line);
  if (line.total_amount !== expectedTotal) {
    return { field: "total_amount", expected: expectedTotal, actual: line.total_amount };
  }
  const expectedTax = taxOf(line.total_amount, line.tax_rate ?? 0);
  const actualTax = line.total_tax_amount ?? 0;
  if (Math.abs(actualTax - expectedTax) > TAX_TOLERANCE) {
    return { field: "total_tax_amount", expected: expectedTax, actual: actualTax };
  }
  return undefined;
}

export function sumTotals(lines: ReadonlyArray<{ total_amount: number }>): number {
  let sum = 0;
  for (const l of lines) sum += l.total_amount;
  return sum;
}

/** Klarna's tax_rate (two implied decimals) from percent rates (Medusa's tax lines): 19 → 1900. */
export function klarnaTaxRate(ratesPercent: number[]): number {
  return Math.round(ratesPercent.reduce((s, r) => s + r, 0) * 100);
}

/**
 * A refunded line as Klarna wants it: unit price including tax, and a non-negative discount that makes
 * quantity × unit price − discount exactly Medusa's refund for the line.
 */
export function klarnaUnitAndDiscount(medusaValue: number, quantity: number, unitGross: number): { unitPrice: number; discount: number } {
  // Nothing to refund for this line (zero-priced or fully discounted): the planner drops it.
  if (quantity <= 0 || medusaValue <= 0) return { unitPrice: 0, discount: 0 };
  let unitPrice = Math.max(0, unitGross);
  let discount = quantity * unitPrice - medusaValue;
  if (discount < 0) {
    // Rounding made Medusa's value a little higher than quantity × gross unit price.
    unitPrice = Math.ceil(medusaValue / quantity);
    discount = quantity * unitPrice - medusaValue;
  }
  return { unitPrice, discount };
}
