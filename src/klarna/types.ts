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

/** Order Management `shipping_info[].shipping_method` (order-management.yml `shipping_info`). */
export const SHIPPING_METHODS = [
  "PickUpStore",
  "Home",
  "BoxReg",
  "BoxUnreg",
  "PickUpPoint",
  "Own",
  "Postal",
  "DHLPackstation",
  "Digital",
  "Undefined",
  "PickUpWarehouse",
  "ClickCollect",
  "PalletDelivery",
] as const;
export type ShippingMethod = (typeof SHIPPING_METHODS)[number];

/** Order Management `shipping_info`: how a capture (or the order) was shipped. */
export interface ShippingInfo {
  shipping_company?: string;
  shipping_method?: ShippingMethod;
  tracking_number?: string;
  tracking_uri?: string;
  return_shipping_company?: string;
  return_tracking_number?: string;
  return_tracking_uri?: string;
}

/** Body of `POST …/captures/{capture_id}/shipping-info` and `POST …/orders/{id}/shipping-info` (`UpdateShippingInfo`). */
export interface ShippingInfoRequest {
  shipping_info: ShippingInfo[];
}

export interface CaptureRequest {
  captured_amount: number;
  description?: string;
  reference?: string;
  order_lines?: OrderLine[];
  shipping_delay?: number;
  shipping_info?: ShippingInfo[];
}

/** Body of `PATCH …/orders/{id}/authorization` (order-management.yml `Update authorization`). */
export interface UpdateAuthorizationRequest {
  order_amount: number;
  description?: string;
  order_lines?: OrderLine[];
}

/** An address, as Klarna writes it in both specs (`address`). */
export interface Address {
  attention?: string;
  city?: string;
  country?: string;
  email?: string;
  family_name?: string;
  given_name?: string;
  organization_name?: string;
  phone?: string;
  postal_code?: string;
  region?: string;
  street_address?: string;
  street_address2?: string;
  title?: string;
}

/** Body of `PATCH …/orders/{id}/customer-details` (`UpdateConsumer`): only the shipping address can change. */
export interface CustomerDetailsRequest {
  shipping_address: Address;
}

/** Order Management `customer` of an order. */
export interface OrderCustomer {
  date_of_birth?: string;
  national_identification_number?: string;
}

/** Order Management `InitialPaymentMethodDto`. */
export interface InitialPaymentMethod {
  type?: string;
  description?: string;
  number_of_installments?: number;
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
  billing_address?: Address;
  shipping_address?: Address;
  shipping_info?: ShippingInfo[];
}

export interface Refund {
  refund_id: string;
  refunded_amount: number;
  refunded_at: string;
  description?: string;
  reference?: string;
  order_lines: OrderLine[];
}

/** `GET /ordermanagement/v1/orders/{id}` (order-management.yml `MerchantOrderDto`). */
export interface Order {
  order_id: string;
  /** Short, customer-friendly reference Klarna uses with the shopper. */
  klarna_reference?: string;
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
  /** The order can only be captured until this time. */
  expires_at: string;
  billing_address?: Address;
  shipping_address?: Address;
  customer?: OrderCustomer;
  merchant_data?: string;
  initial_payment_method?: InitialPaymentMethod;
  shipping_info?: ShippingInfo[];
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
  merchant_data?: string;
  billing_address?: Address;
  shipping_address?: Address;
  customer?: SessionCustomer;
  intent?: "buy" | "tokenize" | "buy_and_tokenize";
}

/** Payments `customer` of a session or order placement. */
export interface SessionCustomer {
  date_of_birth?: string;
  gender?: string;
  last_four_ssn?: string;
  national_identification_number?: string;
  organization_entity_type?: string;
  organization_registration_id?: string;
  title?: string;
  type?: string;
  vat_id?: string;
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
