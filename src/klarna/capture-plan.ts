import { lineArithmeticProblem, sumTotals, taxOf } from "./order-lines";
import type { OrderLine } from "./types";

/**
 * The order lines a capture of the rest of an order carries: the order's lines less what earlier
 * captures (the merchant portal, another system) already carried. Klarna allocates a refund to the
 * capture (the shopper's invoice) holding the refunded line's `reference` (KLARNA.md, "Refund
 * allocation"), so a capture of the rest without lines would leave every refund of its items to be
 * allocated oldest-capture-first, onto an invoice that never held them.
 *
 * Lines are matched by type, reference and name. A line captured in part keeps its unit price; its
 * quantity and total are what is left, and its discount whatever makes Klarna's line arithmetic
 * exact. Answers undefined when the rest cannot be told exactly (earlier captures without lines,
 * lines that match nothing, amounts that do not add up to `amount`): the capture then goes without
 * lines, as before, rather than with lines Klarna would read wrongly.
 */
export function uncapturedLines(
  orderLines: OrderLine[],
  captures: Array<{ order_lines?: OrderLine[]; captured_amount: number }>,
  amount: number,
): OrderLine[] | undefined {
  const identity = (l: OrderLine) => `${l.type ?? "physical"}\u0000${l.reference ?? ""}\u0000${l.name}`;
  const captured = new Map<string, { quantity: number; total: number }>();
  for (const capture of captures) {
    const lines = capture.order_lines ?? [];
    // A capture whose lines do not account for its amount cannot say which items it took.
    if (capture.captured_amount > 0 && sumTotals(lines) !== capture.captured_amount) return undefined;
    for (const l of lines) {
      const seen = captured.get(identity(l)) ?? { quantity: 0, total: 0 };
      captured.set(identity(l), { quantity: seen.quantity + l.quantity, total: seen.total + l.total_amount });
    }
  }
  const rest: OrderLine[] = [];
  for (const line of orderLines) {
    const taken = captured.get(identity(line));
    if (!taken || taken.quantity === 0) {
      rest.push(line);
      continue;
    }
    const quantity = Math.min(line.quantity, taken.quantity);
    const total = Math.min(line.total_amount, taken.total);
    captured.set(identity(line), { quantity: taken.quantity - quantity, total: taken.total - total });
    if (quantity === line.quantity) {
      if (total !== line.total_amount) return undefined;
      continue;
    }
    const left: OrderLine = { ...line, quantity: line.quantity - quantity, total_amount: line.total_amount - total };
    const discount = left.quantity * left.unit_price - left.total_amount;
    if (discount < 0) return undefined;
    if (discount > 0) left.total_discount_amount = discount;
    else delete left.total_discount_amount;
    left.total_tax_amount = taxOf(left.total_amount, left.tax_rate ?? 0);
    if (lineArithmeticProblem(left)) return undefined;
    rest.push(left);
  }
  // Captured lines that are not on the order (or more of them than ordered): the rest is unknown.
  for (const taken of captured.values()) if (taken.quantity !== 0 || taken.total !== 0) return undefined;
  if (rest.length === 0 || sumTotals(rest) !== amount) return undefined;
  return rest;
}
