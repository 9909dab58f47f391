/**
 * Klarna request and response shapes, as published in Klarna's OpenAPI specs
 * (Order Management `order-management.yml`, Payments `payments.yml`).
 * Amounts are integers in minor units; `tax_rate` has two implied decimals (1900 = 19 %).
 */

export const ORDER_LINE_TYPES = [
  "physical",
  "discount",
  "shipping_fee",
  "sales_tax",
  "store_credit",
  "gift_card",
  "digital",
  "surcharge",
  "return_fee",
] as const;
export type OrderLineType = (typeof ORDER_LINE_TYPES)[number];

export interface ProductIdentifiers {
  brand?: string;
  category_path?: string;
  color?: string;
  global_trade_item_number?: string;
  manufacturer_part_number?: string;
  size?: string;
}

export interface OrderLine {
  type?: OrderLineType;
  reference?: string;
  name: string;
  quantity: number;
  quantity_unit?: string;
  unit_price: number;
  tax_rate?: number;
  total_amount: number;
  total_discount_amount?: number;
  total_tax_amount?: number;
  merchant_data?: string;
  product_url?: string;
  image_url?: string;
  product_identifiers?: ProductIdentifiers;
}

export interface RefundRequest {
  refunded_amount: number;
  description?: string;
  reference?: string;
  order_lines?: OrderLine[];
}

export interface CaptureRequest {
  captured_amount: number;
  description?: string;
  reference?: string;
  order_lines?: OrderLine[];
  shipping_delay?: number;
}

export type OrderStatus = "AUTHORIZED" | "PART_CAPTURED" | "CAPTURED" | "CANCELLED" | "EXPIRED" | "CLOSED";
export type FraudStatus = "ACCEPTED" | "PENDING" | "REJECTED";

export interface Capture {
  capture_id: string;
  klarna_reference?: string;
  captured_amount: number;
  captured_at: string;
  description?: string;
  reference?: string;
  order_lines: OrderLine[];
  refunded_amount: number;
}

export interface Refund {
  refund_id: string;
  refunded_amount: number;
  refunded_at: string;
  description?: string;
  reference?: string;
  order_lines: OrderLine[];
}

export interface Order {
  order_id: string;
  status: OrderStatus;
  fraud_status: FraudStatus;
  order_amount: number;
  original_order_amount: number;
  captured_amount: number;
  refunded_amount: number;
  remaining_authorized_amount: number;
  purchase_country: string;
  purchase_currency: string;
  locale?: string;
  order_lines: OrderLine[];
  merchant_reference1?: string;
  merchant_reference2?: string;
  captures: Capture[];
  refunds: Refund[];
  created_at: string;
  expires_at: string;
}

export interface MerchantUrls {
  confirmation?: string;
  notification?: string;
  push?: string;
  authorization?: string;
}

/** Body of `POST /payments/v1/sessions` and of a session update. */
export interface SessionRequest {
  purchase_country: string;
  purchase_currency: string;
  locale?: string;
  order_amount: number;
  order_tax_amount?: number;
  order_lines: OrderLine[];
  merchant_reference1?: string;
  merchant_reference2?: string;
  merchant_urls?: MerchantUrls;
  intent?: "buy" | "tokenize" | "buy_and_tokenize";
}

export interface PaymentMethodCategory {
  identifier: string;
  name: string;
  asset_urls?: { descriptive?: string; standard?: string };
}

export interface Session {
  session_id: string;
  client_token: string;
  payment_method_categories: PaymentMethodCategory[];
}

export interface SessionRead extends SessionRequest {
  status: "complete" | "incomplete";
  authorization_token?: string;
  expires_at?: string;
  client_token?: string;
}

/** Body of `POST /payments/v1/authorizations/{token}/order`. */
export type PlaceOrderRequest = SessionRequest;

export interface PlacedOrder {
  order_id: string;
  fraud_status: FraudStatus;
  redirect_url?: string;
  authorized_payment_method?: { type: string; number_of_installments?: number; number_of_days?: number };
}

/** The error body every Klarna API answers with (except 401, which is not JSON). */
export interface KlarnaErrorBody {
  error_code: string;
  error_messages: string[];
  correlation_id: string;
}
