/**
 * Medusa 1.20's own refund arithmetic, reproduced so that the lines sent to Klarna carry the amounts
 * Medusa refunds. Reference: @medusajs/medusa/dist/services/totals.js `getLineItemRefund` and
 * `getAllocationMap`, services/return.js `create` (return shipping). Medusa rounds with Math.round.
 */

export interface MedusaLineForRefund {
  /** Line item unit_price (tax-exclusive unless includesTax). */
  unitPrice: number;
  /** Quantity of the order's line item (discounts are allocated per unit of it). */
  orderedQuantity: number;
  /** Quantity being refunded. */
  quantity: number;
  /** Σ of the line's discount adjustments counted by Medusa (whole line). */
  adjustmentsTotal: number;
  /** Tax line rates in percent (19 = 19 %). */
  taxRates: number[];
  /** Tax-inclusive pricing: the feature flag is on and the line includes tax. */
  includesTax: boolean;
  /** The order's legacy `tax_rate` (percent), when the order uses the old tax system. */
  legacyTaxRate?: number | null;
}

/** `getLineItemRefund(order, { ...lineItem, quantity })`: what Medusa refunds for the line, tax included. */
export function medusaLineRefund(l: MedusaLineForRefund): number {
  const unitDiscount = l.orderedQuantity > 0 ? Math.round(l.adjustmentsTotal / l.orderedQuantity) : 0;
  const discountAmount = unitDiscount * l.quantity;
  if (l.legacyTaxRate !== null && l.legacyTaxRate !== undefined) {
    const rate = l.legacyTaxRate / 100;
    const included = l.includesTax ? Math.round((rate * l.unitPrice) / (1 + rate)) : 0;
    const subtotal = (l.unitPrice - included) * l.quantity - discountAmount;
    return Math.round(subtotal * (1 + rate));
  }
  const rate = l.taxRates.reduce((s, r) => s + r / 100, 0);
  const included = l.includesTax ? Math.round((rate * l.unitPrice) / (1 + rate)) : 0;
  const subtotal = (l.unitPrice - included) * l.quantity - discountAmount;
  return subtotal + l.taxRates.reduce((s, r) => s + Math.round(subtotal * (r / 100)), 0);
}

/** Medusa's gross unit price (tax included) of a line, as shown to the shopper. */
export function medusaUnitGross(l: Pick<MedusaLineForRefund, "unitPrice" | "taxRates" | "includesTax" | "legacyTaxRate">): number {
  if (l.includesTax) return l.unitPrice;
  if (l.legacyTaxRate !== null && l.legacyTaxRate !== undefined) return Math.round(l.unitPrice * (1 + l.legacyTaxRate / 100));
  return l.unitPrice + l.taxRates.reduce((s, r) => s + Math.round(l.unitPrice * (r / 100)), 0);
}

/** The return shipping charge Medusa withholds: services/return.js `create`, price plus its tax lines. */
export function medusaShippingTotal(price: number, taxRates: number[], includesTax: boolean): number {
  const rate = taxRates.reduce((s, r) => s + r / 100, 0);
  const included = includesTax ? Math.round((rate * price) / (1 + rate)) : 0;
  const net = price - included;
  return net + taxRates.reduce((s, r) => s + Math.round(net * (r / 100)), 0);
}
