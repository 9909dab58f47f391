/**
 * The contract of GET /admin/klarna/orders/:order_id and POST /admin/klarna/refunds/:id/check: what
 * the server (order-panel.ts) answers and the admin widget (src/admin/widgets) reads. Types only,
 * importing nothing, so the widget's own type check (tsconfig.admin.json) stays free of server code.
 * Amounts are integers in the currency's minor units.
 */

/** adoption: a refund Klarna had made, recorded in Medusa afterwards ("Record refund"); nothing was sent. */
export type RefundPurpose = "return" | "claim" | "swap" | "manual" | "fee_waiver" | "adoption";

export interface PanelLine {
  name: string;
  type: string | null;
  reference: string | null;
  quantity: number;
  total_amount: number;
  /** The return fee line: withheld on a return's refund, given back on a fee waiver. */
  is_return_fee: boolean;
}

export interface PanelRefund {
  id: string;
  purpose: RefundPurpose;
  resource_id: string | null;
  label: string;
  amount: number;
  status: "succeeded" | "unknown" | "failed" | "pending";
  /** What Medusa did with a refund Klarna made: recorded it, or not (yet); adopted: another refund recorded it. */
  medusa_state: "recorded" | "not_recorded" | "adopted" | null;
  klarna_refund_id: string | null;
  idempotency_key: string;
  source: string;
  lines: PanelLine[];
  return_fee: { amount: number; line_type: string } | null;
  error: { message: string; code: string | null; correlation_id: string | null; http_status: number | null } | null;
  attempts: number;
  notes: string[];
  created_at: string;
  updated_at: string;
}

export interface PanelFinding {
  kind: string;
  message: string;
  suggested_action: string;
  /** The Klarna refund the finding is about, if it is about one (its card, its "Record refund"). */
  klarna_refund_id: string | null;
}

export interface OrderPanel {
  order_id: string;
  display_id: number | null;
  currency_code: string;
  klarna: {
    order_id: string | null;
    klarna_reference: string | null;
    status: string | null;
    fraud_status: string | null;
    purchase_country: string | null;
    purchase_currency: string | null;
    order_amount: number | null;
    original_order_amount: number | null;
    captured_amount: number | null;
    refunded_amount: number | null;
    remaining_authorized_amount: number | null;
    expires_at: string | null;
    expiry: { state: "ok" | "near" | "past"; days_left: number } | null;
    error: { message: string } | null;
  };
  captures: Array<{ capture_id: string; amount: number; captured_at: string | null; reference: string | null }>;
  refunds: PanelRefund[];
  agreement: {
    klarna: { captured: number; refunded: number } | null;
    medusa: { captured: number; refunded: number };
    agrees: boolean | null;
    findings: PanelFinding[];
  };
  actions: {
    waive_return_fee: Array<{ return_id: string; amount: number }>;
    check_refunds: string[];
    /** Refunds Klarna made that Medusa never recorded and no retry can record: POST /admin/klarna/orders/:order_id/adopt-refund. */
    adopt_refunds: Array<{ klarna_refund_id: string; amount: number }>;
    retry_capture: boolean;
    /**
     * Klarna still holds an authorisation with something left to capture that has not expired:
     * POST /admin/klarna/orders/:order_id/extend-authorization → { message, expires_at }.
     */
    extend_authorization: boolean;
  };
}

export interface RefundCheck {
  /** True when Klarna's order has the refund this row's request asked for. */
  found: boolean;
  /** What was found, in a sentence for the admin. */
  message: string;
  refund: PanelRefund;
}
