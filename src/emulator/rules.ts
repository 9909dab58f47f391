import { z } from "zod";
import { lineArithmeticProblem, sumTotals } from "../klarna/order-lines";
import { ORDER_LINE_TYPES, type OrderLine } from "../klarna/types";

/**
 * Klarna's validation, written once from its OpenAPI specs (`order_line`, `RefundObject`,
 * `CaptureObject`, `session_create`, `create_order_request`) and reused by every route.
 */

/** A refusal: becomes Klarna's error body `{ error_code, error_messages, correlation_id }`. */
export class KlarnaRefusal extends Error {
  constructor(
    readonly status: number,
    readonly error_code: string,
    readonly error_messages: string[],
  ) {
    super(error_messages.join(" "));
  }
}

export const badValue = (path: string, detail?: string) =>
  new KlarnaRefusal(400, "BAD_VALUE", [`Bad value: ${path}${detail ? " " + detail : ""}`]);

const MAX_AMOUNT = 200_000_000;
const int = () => z.number().int();
const str = (max: number, min = 0) => z.string().min(min).max(max);

const productIdentifiers = z
  .object({
    brand: str(70),
    category_path: str(750),
    color: str(64),
    global_trade_item_number: str(50),
    manufacturer_part_number: str(70),
    size: str(64),
  })
  .partial()
  .strict();

/** Order Management `order_line` (captures and refunds). */
export const omOrderLine = z
  .object({
    type: z.enum(ORDER_LINE_TYPES).optional(),
    reference: str(255).optional(),
    name: str(255),
    quantity: int().min(0),
    quantity_unit: str(10).optional(),
    unit_price: int().max(MAX_AMOUNT),
    tax_rate: int().min(0).optional(),
    total_amount: int().max(MAX_AMOUNT),
    total_discount_amount: int().min(0).max(MAX_AMOUNT).optional(),
    total_tax_amount: int().max(MAX_AMOUNT).optional(),
    merchant_data: str(1024).optional(),
    product_url: str(1024).optional(),
    image_url: str(1024).optional(),
    product_identifiers: productIdentifiers.optional(),
    subscription: z.object({}).passthrough().optional(),
  })
  .strict();

/** Payments `order_line` (sessions and orders): a non-empty name, 1–8 char unit, tax rate ≤ 100 %. */
export const paymentsOrderLine = omOrderLine.extend({
  name: str(255, 1),
  quantity_unit: str(8, 1).optional(),
  tax_rate: int().min(0).max(10000).optional(),
});

export const refundObject = z
  .object({
    refunded_amount: int().min(0).max(MAX_AMOUNT),
    description: str(255).optional(),
    reference: str(255).optional(),
    order_lines: z.array(omOrderLine).max(1000).optional(),
  })
  .strict();

export const captureObject = z
  .object({
    captured_amount: int().min(0).max(MAX_AMOUNT),
    description: str(255).optional(),
    reference: str(255).optional(),
    order_lines: z.array(omOrderLine).max(1000).optional(),
    shipping_delay: int().min(0).optional(),
    shipping_info: z.array(z.object({}).passthrough()).max(500).optional(),
  })
  .strict();

export const merchantReferences = z
  .object({ merchant_reference1: str(255).optional(), merchant_reference2: str(255).optional() })
  .strict();

/** Payments `session_create` / `create_order_request`: the fields Klarna validates; others pass through. */
export const sessionBody = z
  .object({
    purchase_country: z.string().regex(/^[A-Za-z]{2}$/),
    purchase_currency: z.string().regex(/^[A-Za-z]{3}$/),
    locale: z.string().regex(/^[A-Za-z]{2,2}(?:-[A-Za-z]{2,2})*$/).optional(),
    order_amount: int().min(0),
    order_tax_amount: int().min(0).optional(),
    order_lines: z.array(paymentsOrderLine).min(1).max(1000),
    merchant_reference1: str(255).optional(),
    merchant_reference2: str(255).optional(),
    merchant_data: str(6000).optional(),
    merchant_urls: z.object({}).passthrough().optional(),
    intent: z.enum(["buy", "tokenize", "buy_and_tokenize"]).optional(),
  })
  .passthrough();

/** Parses a body with a schema; the first problem becomes Klarna's `BAD_VALUE` naming its JSON path. */
export function parseBody<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  let p = jsonPath(issue.path);
  if (issue.code === "unrecognized_keys") p = jsonPath([...issue.path, issue.keys[0]]);
  return fail(badValue(p || "body", issue.code === "unrecognized_keys" ? "(unknown field)" : undefined));
}

function fail(e: KlarnaRefusal): never {
  throw e;
}

/** `["order_lines", 2, "name"]` → `order_lines[2].name`, the way Klarna names fields. */
export function jsonPath(path: ReadonlyArray<string | number>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out;
}

/** Checks each line's arithmetic as Klarna does for orders (the real rejection text is reproduced). */
export function checkLineArithmetic(lines: ReadonlyArray<OrderLine>): void {
  lines.forEach((line, i) => {
    const problem = lineArithmeticProblem(line);
    if (problem) {
      throw badValue(
        `order_lines[${i}].${problem.field} differs from the calculated value [${problem.expected}] by more than [${
          problem.field === "total_amount" ? 0 : 1
        }]`,
      );
    }
  });
}

/** Payments: `order_amount` and `order_tax_amount` must be the sums of the lines. */
export function checkSessionAmounts(body: z.infer<typeof sessionBody>): void {
  checkLineArithmetic(body.order_lines);
  const total = sumTotals(body.order_lines);
  if (body.order_amount !== total) {
    throw badValue(`order_amount differs from the sum of order_lines.total_amount [${total}]`);
  }
  if (body.order_tax_amount !== undefined) {
    const tax = body.order_lines.reduce((s, l) => s + (l.total_tax_amount ?? 0), 0);
    if (body.order_tax_amount !== tax) {
      throw badValue(`order_tax_amount differs from the sum of order_lines.total_tax_amount [${tax}]`);
    }
  }
}
