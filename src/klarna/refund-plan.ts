import { sumTotals, taxOf } from "./order-lines";
import type { OrderLine, OrderLineType, RefundRequest } from "./types";

/**
 * The refund planner: a return (items, return-shipping charge, the amount refunded, the market) in,
 * Klarna's refund request out. Pure and integer-only; imports nothing from Medusa.
 *
 * Rules (KLARNA.md "Return fees", seeds/klarna-refund-with-return-fees.txt):
 * - one line per returned item; `total_amount = quantity × unit_price − total_discount_amount`, tax by
 *   Klarna's formula;
 * - the fee is what the refund withholds from the returned items' value; it becomes ONE negative
 *   `return_fee` line when Klarna allows one (single full capture, market in the list), otherwise the
 *   fallback decides (a negative `discount` line by default, so the lines still add up);
 * - a refund larger than the items gets a positive line of its own for the extra;
 * - the lines add up exactly to `refunded_amount`; no zero-amount line is ever sent.
 */

/** Klarna's return-fee markets (Klarna docs "Refund with return fees"). Newer pages name more: an option. */
export const DEFAULT_RETURN_FEE_MARKETS = ["AT", "DE", "DK", "FI", "FR", "NL", "NO", "SE"];

/** The `reference` of the line that carries what a refund withholds (a `return_fee` or its `discount` fallback). */
export const RETURN_FEE_REFERENCE = "return-fee";

/** The `reference` of a line withholding more than the return-shipping charge (an admin's edit, extra items). */
export const REFUND_ADJUSTMENT_REFERENCE = "refund-adjustment";

/** The line of a planned refund that withholds the fee, if any. */
export function withheldFeeLine(request: Pick<RefundRequest, "order_lines"> | null | undefined): OrderLine | undefined {
  return (request?.order_lines ?? []).find((l) => l.reference === RETURN_FEE_REFERENCE && l.total_amount < 0);
}

export type ReturnFeeFallback = "discount_line" | "amount_only" | "reject";

export interface RefundPlanItem {
  name: string;
  /** SKU: lets Klarna allocate the refund to the capture (invoice) that had it. */
  reference?: string;
  quantity: number;
  /** Unit price including tax, minor units. */
  unitPrice: number;
  /** 1900 = 19 %. */
  taxRate: number;
  /** Discount on the returned quantity, line total including tax, minor units. */
  discount?: number;
  type?: OrderLineType;
}

export interface RefundPlanInput {
  refundAmount: number;
  currency: string;
  purchaseCountry: string;
  captureCount: number;
  items: RefundPlanItem[];
  returnShipping?: { name: string; amount: number; taxRate: number };
  reference?: string;
  description?: string;
  options?: {
    returnFeeMarkets?: string[];
    returnFeeFallback?: ReturnFeeFallback;
    /** false: never a `return_fee` line (claims; or Klarna refused one): the fallback applies. */
    allowReturnFee?: boolean;
  };
}

export type RefundPlanErrorCode = "INVALID_INPUT" | "RETURN_FEE_NOT_ALLOWED" | "AMOUNT_TOO_LARGE";

export class RefundPlanError extends Error {
  constructor(
    readonly code: RefundPlanErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(`${message} (${field})`);
    this.name = "RefundPlanError";
  }
}

const MAX_AMOUNT = 200_000_000;
const MAX_LINES = 1000;
const MAX_TEXT = 255;

function requireInt(value: unknown, field: string, min = -Infinity): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new RefundPlanError("INVALID_INPUT", field, `must be an integer in minor units, got ${JSON.stringify(value)}`);
  }
  if (value < min) throw new RefundPlanError("INVALID_INPUT", field, `must be at least ${min}, got ${value}`);
  return value;
}

function text(value: string | undefined, max = MAX_TEXT): string | undefined {
  if (value === undefined || value === null) return undefined;
  const s = String(value);
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

function line(l: {
  name: string;
  type?: OrderLineType;
  reference?: string;
  quantity: number;
  unitPrice: number;
  discount?: number;
  taxRate: number;
}): OrderLine {
  const total = l.quantity * l.unitPrice - (l.discount ?? 0);
  const out: OrderLine = {
    type: l.type,
    reference: text(l.reference),
    name: text(l.name) || "Item",
    quantity: l.quantity,
    unit_price: l.unitPrice,
    tax_rate: l.taxRate,
    total_amount: total,
    total_discount_amount: l.discount ? l.discount : undefined,
    total_tax_amount: taxOf(total, l.taxRate),
  };
  if (!out.type) delete out.type;
  if (!out.reference) delete out.reference;
  if (out.total_discount_amount === undefined) delete out.total_discount_amount;
  return out;
}

/** Whether Klarna allows a `return_fee` line for this refund (single capture, listed market). */
export function returnFeeAllowed(input: Pick<RefundPlanInput, "captureCount" | "purchaseCountry" | "options">): boolean {
  if (input.options?.allowReturnFee === false) return false;
  const markets = (input.options?.returnFeeMarkets ?? DEFAULT_RETURN_FEE_MARKETS).map((m) => m.toUpperCase());
  return input.captureCount === 1 && markets.includes(String(input.purchaseCountry).toUpperCase());
}

export function planRefund(input: RefundPlanInput): RefundRequest {
  const refundAmount = requireInt(input.refundAmount, "refundAmount", 0);
  if (refundAmount > MAX_AMOUNT) {
    throw new RefundPlanError("AMOUNT_TOO_LARGE", "refundAmount", `exceeds Klarna's maximum of ${MAX_AMOUNT}`);
  }
  if (!/^[A-Za-z]{3}$/.test(String(input.currency))) {
    throw new RefundPlanError("INVALID_INPUT", "currency", `must be an ISO 4217 code, got ${JSON.stringify(input.currency)}`);
  }
  if (!/^[A-Za-z]{2}$/.test(String(input.purchaseCountry))) {
    throw new RefundPlanError("INVALID_INPUT", "purchaseCountry", `must be an ISO 3166-1 alpha-2 code, got ${JSON.stringify(input.purchaseCountry)}`);
  }
  requireInt(input.captureCount, "captureCount", 0);
  if (!Array.isArray(input.items)) throw new RefundPlanError("INVALID_INPUT", "items", "must be an array");

  const itemLines: OrderLine[] = [];
  input.items.forEach((item, i) => {
    const at = `items[${i}]`;
    const quantity = requireInt(item.quantity, `${at}.quantity`, 0);
    const unitPrice = requireInt(item.unitPrice, `${at}.unitPrice`, 0);
    const taxRate = requireInt(item.taxRate, `${at}.taxRate`, 0);
    if (taxRate > 10000) throw new RefundPlanError("INVALID_INPUT", `${at}.taxRate`, `must be at most 10000 (100 %), got ${taxRate}`);
    const discount = item.discount === undefined ? 0 : requireInt(item.discount, `${at}.discount`, 0);
    if (discount > quantity * unitPrice) {
      throw new RefundPlanError("INVALID_INPUT", `${at}.discount`, `is larger than the line (${discount} > ${quantity * unitPrice})`);
    }
    if (quantity * unitPrice > MAX_AMOUNT) {
      throw new RefundPlanError("AMOUNT_TOO_LARGE", `${at}`, `line exceeds Klarna's maximum of ${MAX_AMOUNT}`);
    }
    // A zero-priced or fully discounted item carries no money: no zero-amount line is sent for it.
    if (quantity * unitPrice - discount === 0) return;
    itemLines.push(line({ name: item.name, type: item.type ?? "physical", reference: item.reference, quantity, unitPrice, discount, taxRate }));
  });

  let shipping: RefundPlanInput["returnShipping"];
  if (input.returnShipping) {
    const amount = requireInt(input.returnShipping.amount, "returnShipping.amount", 0);
    const taxRate = requireInt(input.returnShipping.taxRate, "returnShipping.taxRate", 0);
    shipping = { name: input.returnShipping.name || "Return shipping", amount, taxRate };
  }

  // fee > 0: withheld from the items (at most their value, since refundAmount >= 0);
  // fee < 0: refunded beyond the items.
  const itemsValue = sumTotals(itemLines);
  const fee = itemsValue - refundAmount;
  const base: RefundRequest = { refunded_amount: refundAmount };
  if (input.reference) base.reference = text(input.reference);
  if (input.description) base.description = text(input.description);

  const extraLines: OrderLine[] = [];
  if (fee < 0) {
    // The admin refunds more than the items (e.g. the original shipping too): say so in a line of its own.
    extraLines.push(line({ name: "Additional refund", reference: "additional-refund", quantity: 1, unitPrice: -fee, taxRate: 0 }));
  } else if (fee > 0) {
    const feeName = shipping?.name ?? "Return fee";
    const feeTaxRate = shipping?.taxRate ?? 0;
    // A return fee is the return-shipping charge at most (Klarna: "return fee"); anything withheld
    // beyond it (an admin's edit, more items received than requested) is an adjustment of its own.
    const adjustment = Math.max(0, fee - (shipping?.amount ?? 0));
    const returnFee = fee - adjustment;
    if (adjustment > 0) {
      extraLines.push(
        line({
          name: "Refund adjustment",
          type: "discount",
          reference: REFUND_ADJUSTMENT_REFERENCE,
          quantity: 1,
          unitPrice: -adjustment,
          taxRate: 0,
        }),
      );
    }
    if (returnFee === 0) {
      // nothing left to call a return fee
    } else if (returnFeeAllowed(input)) {
      extraLines.unshift(
        line({ name: feeName, type: "return_fee", reference: RETURN_FEE_REFERENCE, quantity: 1, unitPrice: -returnFee, taxRate: feeTaxRate }),
      );
    } else {
      const fallback = input.options?.returnFeeFallback ?? "discount_line";
      if (fallback === "reject") {
        throw new RefundPlanError(
          "RETURN_FEE_NOT_ALLOWED",
          "returnShipping",
          `Klarna allows a return fee only on orders captured once in ${(input.options?.returnFeeMarkets ?? DEFAULT_RETURN_FEE_MARKETS).join(
            ", ",
          )}; this order (market ${input.purchaseCountry}, ${input.captureCount} capture(s)) cannot be charged ${fee}`,
        );
      }
      if (fallback === "amount_only") return base;
      extraLines.unshift(
        line({ name: feeName, type: "discount", reference: RETURN_FEE_REFERENCE, quantity: 1, unitPrice: -returnFee, taxRate: feeTaxRate }),
      );
    }
  }

  const order_lines = [...foldToLimit(itemLines, MAX_LINES - extraLines.length), ...extraLines];
  if (order_lines.length === 0) return base;
  return { ...base, order_lines };
}

/**
 * Klarna takes at most 1000 lines. Past that, the last item lines are folded into one line per tax
 * rate ("Other returned items"), which keeps the sum and each line's arithmetic exact.
 */
function foldToLimit(lines: OrderLine[], limit: number): OrderLine[] {
  if (lines.length <= limit) return lines;
  let keep = limit - 1;
  for (;;) {
    const rates = new Set(lines.slice(keep).map((l) => l.tax_rate ?? 0));
    if (keep + rates.size <= limit) break;
    keep -= 1;
  }
  const byRate = new Map<number, number>();
  for (const l of lines.slice(keep)) byRate.set(l.tax_rate ?? 0, (byRate.get(l.tax_rate ?? 0) ?? 0) + l.total_amount);
  const folded = [...byRate.entries()]
    .filter(([, total]) => total !== 0)
    .map(([rate, total]) =>
      line({ name: `Other returned items (${rate / 100} % tax)`, type: "physical", quantity: 1, unitPrice: total, taxRate: rate }),
    );
  return [...lines.slice(0, keep), ...folded];
}

/**
 * Giving a charged return fee back (Klarna: "send a new refund including the amount previously charged
 * as a return fee"). The exact line shape is unpublished: a positive `return_fee` line is the natural
 * reading; where Klarna refuses it, the amount alone.
 */
export function planReturnFeeRefund(input: {
  amount: number;
  fee: { name: string; taxRate: number };
  reference: string;
  allowReturnFeeLine: boolean;
}): RefundRequest {
  const amount = requireInt(input.amount, "amount", 1);
  const base: RefundRequest = { refunded_amount: amount, reference: text(input.reference), description: "Return fee refunded" };
  if (!input.allowReturnFeeLine) return base;
  return {
    ...base,
    order_lines: [
      line({ name: input.fee.name, type: "return_fee", reference: RETURN_FEE_REFERENCE, quantity: 1, unitPrice: amount, taxRate: input.fee.taxRate }),
    ],
  };
}

/** A refund of an amount without lines (a manual refund, a swap's price difference). */
export function planAmountRefund(input: { amount: number; reference: string; description: string }): RefundRequest {
  const amount = requireInt(input.amount, "amount", 0);
  if (amount > MAX_AMOUNT) throw new RefundPlanError("AMOUNT_TOO_LARGE", "amount", `exceeds Klarna's maximum of ${MAX_AMOUNT}`);
  return { refunded_amount: amount, reference: text(input.reference), description: text(input.description) };
}
