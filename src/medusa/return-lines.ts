import { klarnaTaxRate, klarnaUnitAndDiscount } from "../klarna/order-lines";
import type { RefundPlanInput, RefundPlanItem } from "../klarna/refund-plan";
import { medusaLineRefund, medusaShippingTotal, medusaUnitGross } from "./medusa-totals";
import type { LineRow, OrderRow, ShippingRow } from "./store-queries";

/**
 * Medusa rows → the refund planner's plain input. Each returned line's value is what Medusa 1.20
 * refunds for it (getLineItemRefund: unit price, tax lines, the order's discount allocation), written
 * as a tax-inclusive unit price and a discount, as Klarna wants lines.
 */

/** What the shopper saw: "Organic Cotton T-Shirt, S". */
export function lineName(title: string, variant?: string | null): string {
  return variant && variant !== title ? `${title}, ${variant}` : title;
}

/** `inclusive`: Medusa's tax_inclusive_pricing feature is on. */
export function planItems(order: OrderRow, lines: LineRow[], inclusive: boolean, quantities?: Map<string, number>): RefundPlanItem[] {
  const legacyTaxRate = order.tax_rate === null || order.tax_rate === undefined ? null : Number(order.tax_rate);
  return lines.map((l) => {
    const rates = (l.tax_rates ?? []).map(Number);
    const adjustmentsTotal =
      (l.allow_discounts && order.discount_id
        ? l.adjustments.filter((a) => a.discount_id === order.discount_id).reduce((s, a) => s + Number(a.amount), 0)
        : 0) + l.adjustments.filter((a) => a.discount_id === null).reduce((s, a) => s + Number(a.amount), 0);
    const quantity = quantities?.get(l.item_id) ?? Number(l.quantity);
    const spec = {
      unitPrice: Number(l.unit_price),
      orderedQuantity: Number(l.ordered_quantity),
      quantity,
      adjustmentsTotal,
      taxRates: rates,
      includesTax: inclusive && Boolean(l.includes_tax),
      legacyTaxRate,
    };
    const value = medusaLineRefund(spec);
    const { unitPrice, discount } = klarnaUnitAndDiscount(value, quantity, medusaUnitGross(spec));
    return {
      name: lineName(l.title, l.description),
      reference: l.sku ?? undefined,
      quantity,
      unitPrice,
      discount,
      taxRate: klarnaTaxRate(legacyTaxRate !== null ? [legacyTaxRate] : rates),
    };
  });
}

/** The return shipping charge as the planner wants it (price plus its tax lines, as Medusa withholds it). */
export function shippingCharge(shipping: ShippingRow | undefined, inclusive: boolean): RefundPlanInput["returnShipping"] {
  if (!shipping) return undefined;
  const rates = (shipping.tax_rates ?? []).map(Number);
  const amount = medusaShippingTotal(Number(shipping.price), rates, inclusive && shipping.includes_tax);
  return { name: shipping.name, amount, taxRate: klarnaTaxRate(rates) };
}
