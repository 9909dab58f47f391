import { klarnaTaxRate, klarnaUnitAndDiscount, sumTotals, taxOf } from "../klarna/order-lines";
import type { OrderLine, SessionRequest } from "../klarna/types";
import { medusaUnitGross } from "./medusa-totals";
import { lineName } from "./return-lines";

/**
 * A Medusa cart (with totals) as Klarna Payments order lines: items with their tax and discounts,
 * shipping, gift cards; amounts that add up the way Klarna checks them (order_amount = Σ total_amount,
 * order_tax_amount = Σ total_tax_amount, each line's tax within ±1 of Klarna's formula).
 */

export interface CartLike {
  id: string;
  total?: number | null;
  gift_card_total?: number | null;
  items?: Array<{
    title: string;
    description?: string | null;
    quantity: number;
    unit_price: number;
    total?: number | null;
    includes_tax?: boolean;
    variant?: { sku?: string | null } | null;
    tax_lines?: Array<{ rate: number }>;
    is_giftcard?: boolean;
  }>;
  shipping_methods?: Array<{ price: number; total?: number | null; shipping_option?: { name?: string } | null; tax_lines?: Array<{ rate: number }> }>;
  shipping_address?: { country_code?: string | null } | null;
  billing_address?: { country_code?: string | null } | null;
  region?: { currency_code?: string; countries?: Array<{ iso_2: string }> } | null;
}

export function purchaseCountryOf(cart: CartLike): string | undefined {
  const c = cart.shipping_address?.country_code || cart.billing_address?.country_code || cart.region?.countries?.[0]?.iso_2;
  return c ? c.toUpperCase() : undefined;
}

export function cartOrderLines(cart: CartLike, amount: number): OrderLine[] {
  const lines: OrderLine[] = [];
  for (const item of cart.items ?? []) {
    const rates = (item.tax_lines ?? []).map((t) => Number(t.rate));
    const total = Number(item.total ?? 0);
    if (item.quantity <= 0 || total === 0) continue;
    const gross = medusaUnitGross({ unitPrice: item.unit_price, taxRates: rates, includesTax: Boolean(item.includes_tax) });
    const { unitPrice, discount } = klarnaUnitAndDiscount(total, item.quantity, gross);
    const taxRate = klarnaTaxRate(rates);
    const line: OrderLine = {
      type: item.is_giftcard ? "digital" : "physical",
      name: lineName(item.title, item.description).slice(0, 255),
      quantity: item.quantity,
      unit_price: unitPrice,
      tax_rate: taxRate,
      total_amount: total,
      total_tax_amount: taxOf(total, taxRate),
    };
    if (item.variant?.sku) line.reference = item.variant.sku.slice(0, 255);
    if (discount) line.total_discount_amount = discount;
    lines.push(line);
  }
  for (const method of cart.shipping_methods ?? []) {
    const total = Number(method.total ?? method.price);
    if (total === 0) continue;
    const taxRate = klarnaTaxRate((method.tax_lines ?? []).map((t) => Number(t.rate)));
    lines.push({
      type: "shipping_fee",
      name: (method.shipping_option?.name || "Shipping").slice(0, 255),
      quantity: 1,
      unit_price: total,
      tax_rate: taxRate,
      total_amount: total,
      total_tax_amount: taxOf(total, taxRate),
    });
  }
  const giftCards = Number(cart.gift_card_total ?? 0);
  if (giftCards > 0) {
    lines.push({
      type: "gift_card",
      name: "Gift card",
      quantity: 1,
      unit_price: -giftCards,
      tax_rate: 0,
      total_amount: -giftCards,
      total_tax_amount: 0,
    });
  }
  // Medusa's amount is the truth: whatever its totals round differently becomes one line of its own.
  const diff = amount - sumTotals(lines);
  if (diff !== 0) {
    lines.push({
      type: diff < 0 ? "discount" : "surcharge",
      name: diff < 0 ? "Adjustment" : "Surcharge",
      quantity: 1,
      unit_price: diff,
      tax_rate: 0,
      total_amount: diff,
      total_tax_amount: 0,
    });
  }
  return lines;
}

export function sessionFromCart(
  cart: CartLike,
  amount: number,
  opts: { locale?: string; merchantUrls?: SessionRequest["merchant_urls"] },
): SessionRequest {
  const country = purchaseCountryOf(cart);
  const currency = cart.region?.currency_code?.toUpperCase();
  if (!country) throw new Error("The cart has no country (no shipping or billing address, and its region has no country).");
  if (!currency) throw new Error("The cart has no currency (its region was not loaded).");
  const order_lines = cartOrderLines(cart, amount);
  const body: SessionRequest = {
    purchase_country: country,
    purchase_currency: currency,
    locale: opts.locale ?? `en-${country}`,
    order_amount: amount,
    order_tax_amount: order_lines.reduce((s, l) => s + (l.total_tax_amount ?? 0), 0),
    order_lines,
    merchant_reference1: cart.id,
  };
  if (opts.merchantUrls && Object.keys(opts.merchantUrls).length) body.merchant_urls = opts.merchantUrls;
  return body;
}
