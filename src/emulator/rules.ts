import { z } from "zod";
import { lineArithmeticProblem, sumTotals } from "../klarna/order-lines";
import { ORDER_LINE_TYPES, SHIPPING_METHODS, type OrderLine, type OrderLineType, type ShippingInfo } from "../klarna/types";

/**
 * Klarna's validation, written once from its OpenAPI specs (`order_line`, `RefundObject`,
 * `CaptureObject`, `shipping_info`, `Update authorization`, `UpdateConsumer`, `address`,
 * `session_create`, `create_order_request`) and reused by every route.
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

export const badValue = (path: string, detail?: string) => new KlarnaRefusal(400, "BAD_VALUE", [`Bad value: ${path}${detail ? " " + detail : ""}`]);

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

/**
 * payments.yml `order_line` (sessions and orders): a non-empty name, 1–8 char unit, tax rate ≤ 100 %,
 * and its `type` is one of the eight checkout types the spec lists: `return_fee` belongs to refunds
 * (order-management.yml only), so a checkout line of that type is `Bad value: order_lines[i].type`.
 */
export const PAYMENTS_LINE_TYPES = ORDER_LINE_TYPES.filter((t): t is Exclude<OrderLineType, "return_fee"> => t !== "return_fee") as [
  Exclude<OrderLineType, "return_fee">,
  ...Exclude<OrderLineType, "return_fee">[],
];
export const paymentsOrderLine = omOrderLine.extend({
  type: z.enum(PAYMENTS_LINE_TYPES).optional(),
  name: str(255, 1),
  quantity_unit: str(8, 1).optional(),
  tax_rate: int().min(0).max(10000).optional(),
});

/** order-management.yml `shipping_info` (a capture's or an order's shipment). */
export const shippingInfo = z
  .object({
    shipping_company: str(100),
    shipping_method: z.enum(SHIPPING_METHODS),
    tracking_number: str(100),
    tracking_uri: str(1024),
    return_shipping_company: str(100),
    return_tracking_number: str(100),
    return_tracking_uri: str(1024),
  })
  .partial()
  .strict();

/**
 * Checks `shipping_info[]` entry by entry. Klarna answers these with 422 UNPROCESSABLE_ENTITY, not
 * BAD_VALUE: its docs ("Manage orders with the API", common errors) quote "The size of the
 * shipping_info/shipping_company value must be between 0 and 100".
 */
export function checkShippingInfo(entries: ReadonlyArray<unknown>): ShippingInfo[] {
  return entries.map((entry) => {
    const result = shippingInfo.safeParse(entry);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const field = issue.code === "unrecognized_keys" ? issue.keys[0] : issue.path.join("/");
    const where = field ? `shipping_info/${field}` : "shipping_info";
    let message: string;
    if (issue.code === "too_big" || issue.code === "too_small") {
      message = `The size of the ${where} value must be between 0 and ${issue.code === "too_big" ? issue.maximum : 100}`;
    } else if (issue.code === "invalid_enum_value") {
      message = `The value of ${where} must match "(${SHIPPING_METHODS.join("|")})"`;
    } else if (issue.code === "unrecognized_keys") {
      message = `Unrecognized field ${where}`;
    } else {
      message = `The value of ${where} is invalid`;
    }
    throw new KlarnaRefusal(422, "UNPROCESSABLE_ENTITY", [message]);
  });
}

/** order-management.yml `address` (an order's or a capture's billing and shipping address). */
export const omAddress = z
  .object({
    attention: str(255),
    city: str(200),
    country: z.string(),
    email: str(100),
    family_name: str(100),
    given_name: str(100),
    organization_name: str(255),
    phone: str(100),
    postal_code: str(10),
    region: str(200),
    street_address: str(100),
    street_address2: str(100),
    title: str(20),
  })
  .partial()
  .strict();

/** payments.yml `address` (billing and shipping address of a session or an order placement). */
export const paymentsAddress = z
  .object({
    attention: str(99),
    city: str(99),
    country: z.string().regex(/^[A-Za-z]{2}$/),
    email: str(99),
    family_name: str(99),
    given_name: str(99),
    organization_name: str(99),
    phone: str(99),
    postal_code: str(10),
    region: str(99),
    street_address: str(99),
    street_address2: str(99),
    title: str(20),
  })
  .partial();

/** payments.yml `customer`. */
export const paymentsCustomer = z
  .object({
    date_of_birth: z.string(),
    gender: z.string(),
    last_four_ssn: z.string().regex(/^([0-9]{4}|[0-9]{9})$/),
    national_identification_number: z.string(),
    organization_entity_type: z.enum([
      "LIMITED_COMPANY",
      "PUBLIC_LIMITED_COMPANY",
      "ENTREPRENEURIAL_COMPANY",
      "LIMITED_PARTNERSHIP_LIMITED_COMPANY",
      "LIMITED_PARTNERSHIP",
      "GENERAL_PARTNERSHIP",
      "REGISTERED_SOLE_TRADER",
      "SOLE_TRADER",
      "CIVIL_LAW_PARTNERSHIP",
      "PUBLIC_INSTITUTION",
      "OTHER",
    ]),
    organization_registration_id: z.string(),
    title: z.string(),
    type: z.string().regex(/^(person|organization)$/),
    vat_id: z.string(),
  })
  .partial();

/** payments.yml `merchant_urls`: each at most 2000 characters, `{order.id}`/`{session.id}` placeholders. */
export const merchantUrls = z.object({ confirmation: str(2000), notification: str(2000), push: str(2000), authorization: str(2000) }).partial();

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
    // Each entry is checked by `checkShippingInfo` (Klarna's 422 for shipping_info).
    shipping_info: z.array(z.unknown()).max(500).optional(),
  })
  .strict();

export const merchantReferences = z.object({ merchant_reference1: str(255).optional(), merchant_reference2: str(255).optional() }).strict();

/** order-management.yml `Update authorization` (`PATCH …/orders/{id}/authorization`). */
export const updateAuthorization = z
  .object({
    order_amount: int().min(0).max(MAX_AMOUNT),
    description: str(255).optional(),
    order_lines: z.array(omOrderLine).max(1000).optional(),
  })
  .strict();

/**
 * order-management.yml `UpdateConsumer` (`PATCH …/orders/{id}/customer-details`): the shipping address
 * only ("Billing address cannot be updated", the call's 403). The address itself is checked apart
 * (`omAddress`), its problems being Klarna's 422 INVALID_ADDRESS.
 */
export const updateConsumer = z.object({ shipping_address: z.unknown().optional() }).strict();

/** order-management.yml `UpdateShippingInfo`: 1–500 entries, each checked by `checkShippingInfo`. */
export const updateShippingInfo = z.object({ shipping_info: z.array(z.unknown()).min(1).max(500) }).strict();

/** order-management.yml `ExtendDueDateRequest`. */
export const extendDueDate = z
  .object({
    number_of_days: int()
      .min(-(2 ** 31))
      .max(2 ** 31 - 1),
  })
  .strict();

/** Payments `session_create` / `create_order_request`: the fields Klarna validates; others pass through. */
export const sessionBody = z
  .object({
    purchase_country: z.string().regex(/^[A-Za-z]{2}$/),
    purchase_currency: z.string().regex(/^[A-Za-z]{3}$/),
    locale: z
      .string()
      .regex(/^[A-Za-z]{2,2}(?:-[A-Za-z]{2,2})*$/)
      .optional(),
    order_amount: int().min(0),
    order_tax_amount: int().min(0).optional(),
    order_lines: z.array(paymentsOrderLine).min(1).max(1000),
    merchant_reference1: str(255).optional(),
    merchant_reference2: str(255).optional(),
    merchant_data: str(6000).optional(),
    merchant_urls: merchantUrls.optional(),
    billing_address: paymentsAddress.optional(),
    shipping_address: paymentsAddress.optional(),
    customer: paymentsCustomer.optional(),
    intent: z.enum(["buy", "tokenize", "buy_and_tokenize"]).optional(),
  })
  .passthrough();

/** payments.yml `customer_token_creation_request` (`POST …/authorizations/{token}/customer-token`). */
export const customerTokenRequest = z
  .object({
    description: str(255, 1),
    intended_use: z.enum(["SUBSCRIPTION"]),
    locale: z.string().regex(/^[A-Za-z]{2,2}(?:-[A-Za-z]{2,2})*$/),
    purchase_country: z.string().regex(/^[A-Za-z]{2}$/),
    purchase_currency: z.string().regex(/^[A-Za-z]{3}$/),
    billing_address: paymentsAddress.optional(),
    customer: paymentsCustomer.optional(),
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

/** `order_amount` must be the sum of the lines' `total_amount` (Payments; Order Management updates). */
export function checkOrderAmount(orderAmount: number, lines: ReadonlyArray<OrderLine>): void {
  const total = sumTotals(lines);
  if (orderAmount !== total) {
    throw badValue(`order_amount differs from the sum of order_lines.total_amount [${total}]`);
  }
}

/**
 * The tax an order's lines carry: each line's `total_tax_amount`, except a `sales_tax` line, which
 * IS tax. Klarna's US shape (docs "Sales tax"): item lines with `tax_rate` 0, one `sales_tax` line
 * holding the tax, and `order_tax_amount` equal to it.
 */
export function linesTax(lines: ReadonlyArray<OrderLine>): number {
  return lines.reduce((s, l) => s + (l.type === "sales_tax" ? l.total_amount : (l.total_tax_amount ?? 0)), 0);
}

/** Payments: `order_amount` and `order_tax_amount` must be the sums of the lines. */
export function checkSessionAmounts(body: z.infer<typeof sessionBody>): void {
  checkLineArithmetic(body.order_lines);
  checkOrderAmount(body.order_amount, body.order_lines);
  if (body.order_tax_amount !== undefined) {
    const tax = linesTax(body.order_lines);
    if (body.order_tax_amount !== tax) {
      throw badValue(`order_tax_amount differs from the sum of order_lines.total_tax_amount [${tax}]`);
    }
  }
}
