import { KlarnaApiError } from "../klarna/errors";
import { RETURN_FEE_REFERENCE, withheldFeeLine } from "../klarna/refund-plan";
import type { Order as KlarnaOrder, OrderLine, RefundRequest } from "../klarna/types";
import type { KlarnaRefund } from "../models/klarna-refund";
import type KlarnaPaymentProcessor from "../services/klarna";
import type { OrderPanel, PanelFinding, PanelRefund, RefundCheck, RefundPurpose } from "./order-panel-contract";
import { paymentError } from "./payment-error";

export type { OrderPanel, PanelFinding, PanelLine, PanelRefund, RefundCheck, RefundPurpose } from "./order-panel-contract";

/**
 * The admin's Klarna panel (the order page's widget, src/admin/widgets/klarna-order-panel.tsx):
 * what `GET /admin/klarna/orders/:order_id` answers, and the panel's "check with Klarna" action.
 *
 * It puts side by side the plugin's ledger (one row per refund intent), the Klarna payment's data,
 * Medusa's books (payments and refunds) and the Klarna order as Klarna has it now. A panel load
 * makes at most one Klarna call (`GET /ordermanagement/v1/orders/{id}`); when Klarna cannot be
 * reached, it answers with what the store knows and says why in `klarna.error`.
 * Nothing here holds a credential: the ledger stores none, and Klarna's errors are worded by the
 * processor's error mapper, which redacts them.
 */

/** An error Medusa's error handler answers with its status and our message (not_found → 404, not_allowed → 400). */
export class PanelError extends Error {
  constructor(
    readonly type: "not_found" | "not_allowed",
    message: string,
  ) {
    super(message);
  }
}

/** An authorisation this close to its end is flagged "near": capture soon or it expires (Klarna: 28 days by default). */
const EXPIRY_NEAR_DAYS = 7;
const DAY_MS = 24 * 3600_000;

/** The awilix scope of the request: Medusa's services, resolved lazily. */
type Scope = { resolve<T = any>(name: string): T };

interface MedusaPayment {
  id: string;
  provider_id: string;
  amount: number;
  amount_refunded: number | null;
  captured_at: Date | string | null;
  canceled_at?: Date | string | null;
  data: Record<string, any> | null;
}

interface MedusaOrder {
  id: string;
  display_id: number | null;
  currency_code: string;
  payments?: MedusaPayment[];
  returns?: Array<{ id: string; status: string }>;
}

export class KlarnaOrderPanel {
  constructor(
    private readonly scope: Scope,
    private readonly processor: KlarnaPaymentProcessor = scope.resolve("pp_klarna"),
  ) {}

  /** GET /admin/klarna/orders/:order_id */
  async load(orderId: string, now = new Date()): Promise<OrderPanel> {
    const order = await this.order(orderId);
    const payments = (order.payments ?? []).filter((p) => p.provider_id === "klarna");
    if (!payments.length) throw new PanelError("not_found", `Order ${orderId} was not paid with Klarna.`);
    const data = payments.find((p) => typeof p.data?.order_id === "string")?.data ?? payments[0].data ?? {};
    const klarnaOrderId: string | null = typeof data.order_id === "string" ? data.order_id : null;

    const [read, rows] = await Promise.all([
      klarnaOrderId ? this.processor.readKlarnaOrder(klarnaOrderId) : Promise.resolve(undefined),
      klarnaOrderId ? this.processor.refundLedger.listForKlarnaOrder(klarnaOrderId) : Promise.resolve([] as KlarnaRefund[]),
    ]);
    const k = read?.order;
    const klarnaError = !klarnaOrderId
      ? { message: "This payment has no Klarna order yet: it was never authorised with Klarna." }
      : read?.error
        ? { message: `${read.error.error} (${read.error.detail})` }
        : null;

    const refunds = rows.map(panelRefund);
    const captured = payments.filter((p) => p.captured_at);
    // Medusa 1.20 writes the Refund rows of order-level refunds (returns, claims, swaps, order refunds)
    // with payment_id null (PaymentProviderService.refundPayment), so refunds cannot be summed per
    // payment; `payment.amount_refunded` is Medusa's own per-payment total, raised in the same
    // transaction that writes each Refund row.
    const medusa = {
      captured: sum(captured.map((p) => p.amount)),
      refunded: sum(captured.map((p) => p.amount_refunded ?? 0)),
    };
    const klarnaBooks = k ? { captured: k.captured_amount, refunded: k.refunded_amount } : null;
    const agrees = klarnaBooks ? klarnaBooks.captured === medusa.captured && klarnaBooks.refunded === medusa.refunded : null;

    return {
      order_id: order.id,
      display_id: order.display_id ?? null,
      currency_code: order.currency_code,
      klarna: {
        order_id: klarnaOrderId,
        klarna_reference: (k as (KlarnaOrder & { klarna_reference?: string }) | undefined)?.klarna_reference ?? null,
        status: k?.status ?? null,
        fraud_status: k?.fraud_status ?? (typeof data.fraud_status === "string" ? data.fraud_status : null),
        purchase_country: k?.purchase_country ?? (typeof data.purchase_country === "string" ? data.purchase_country : null),
        purchase_currency: k?.purchase_currency ?? (typeof data.purchase_currency === "string" ? data.purchase_currency : null),
        order_amount: k?.order_amount ?? (typeof data.order_amount === "number" ? data.order_amount : null),
        original_order_amount: k?.original_order_amount ?? null,
        captured_amount: k?.captured_amount ?? null,
        refunded_amount: k?.refunded_amount ?? null,
        remaining_authorized_amount: k?.remaining_authorized_amount ?? null,
        expires_at: k?.expires_at ?? null,
        expiry: k ? expiryOf(k, now) : null,
        error: klarnaError,
      },
      captures: k
        ? k.captures.map((c) => ({ capture_id: c.capture_id, amount: c.captured_amount, captured_at: c.captured_at ?? null, reference: c.reference ?? null }))
        : // Klarna unreachable: what the processor recorded when it captured (no dates there).
          (Array.isArray(data.captures) ? data.captures : []).map((c: { capture_id: string; captured_amount: number }) => ({
            capture_id: c.capture_id,
            amount: c.captured_amount,
            captured_at: null,
            reference: null,
          })),
      refunds,
      agreement: { klarna: klarnaBooks, medusa, agrees, findings: findingsOf(klarnaBooks, medusa, refunds, order.currency_code) },
      actions: {
        waive_return_fee: klarnaOrderId ? await this.waivableFees(klarnaOrderId, order) : [],
        check_refunds: refunds.filter((r) => r.status === "unknown" || r.status === "pending").map((r) => r.id),
        retry_capture: captured.length === 0 && !payments.every((p) => p.canceled_at) && (k?.remaining_authorized_amount ?? 0) > 0,
        extend_authorization: false,
      },
    };
  }

  /**
   * POST /admin/klarna/refunds/:id/check: looks for an unsettled refund on the Klarna order (one
   * Klarna call), by the `reference` its request carried. When Klarna has it, the ledger row is marked
   * succeeded with Klarna's refund id, so no attempt sends it again.
   */
  async checkRefund(ledgerId: string): Promise<RefundCheck> {
    const ledger = this.processor.refundLedger;
    const row = UUID.test(ledgerId) ? await ledger.get(ledgerId) : null;
    if (!row) throw new PanelError("not_found", `No Klarna refund with id ${ledgerId} is in the plugin's ledger.`);
    const label = labelOf(row);
    if (row.status === "succeeded") {
      return { found: true, message: `${label} is already settled: Klarna refund ${row.klarna_refund_id}. Nothing to check.`, refund: panelRefund(row) };
    }
    if (row.status === "failed") {
      return { found: false, message: `Klarna refused ${label}, so it made no refund; there is nothing to look for. Fix the cause and refund again.`, refund: panelRefund(row) };
    }
    const reference = (row.request as RefundRequest | null)?.reference;
    if (!reference) {
      return { found: false, message: `${label} was never sent to Klarna (no request is recorded), so Klarna cannot have made it.`, refund: panelRefund(row) };
    }
    const read = await this.processor.readKlarnaOrder(row.klarna_order_id);
    if (read.error) {
      return { found: false, message: `Klarna could not be asked: ${read.error.error} (${read.error.detail}). Nothing was changed; check again later.`, refund: panelRefund(row) };
    }
    const match = read.order.refunds.find((r) => r.reference === reference);
    if (!match) {
      return {
        found: false,
        message: `Klarna order ${row.klarna_order_id} has no refund with reference ${reference}: the attempt made no refund at Klarna. The next attempt sends it (it is safe: the ledger decides about the key).`,
        refund: panelRefund(row),
      };
    }
    const note = `Confirmed from the admin panel by reading the Klarna order: refund ${match.refund_id} (reference ${reference}) exists.`;
    const updated = await ledger.update(row.id, {
      status: "succeeded",
      klarna_refund_id: match.refund_id,
      notes: [...(row.notes ?? []), note],
    });
    return {
      found: true,
      message: `Klarna made ${label}: refund ${match.refund_id} of ${money(match.refunded_amount, read.order.purchase_currency)} on ${match.refunded_at}. Marked as succeeded; it will not be sent again.`,
      refund: panelRefund(updated),
    };
  }

  private async order(orderId: string): Promise<MedusaOrder> {
    const orderService = this.scope.resolve("orderService");
    try {
      return await orderService.retrieve(orderId, { relations: ["payments", "returns"] });
    } catch (e) {
      if ((e as { type?: string }).type === "not_found") throw new PanelError("not_found", `Order ${orderId} was not found.`);
      throw e;
    }
  }

  /** Received returns whose Klarna refund withheld a return fee that was not given back yet. */
  private async waivableFees(klarnaOrderId: string, order: MedusaOrder): Promise<Array<{ return_id: string; amount: number }>> {
    const received = (order.returns ?? []).filter((r) => r.status === "received");
    const states = await Promise.all(received.map(async (r) => ({ r, state: await this.processor.returnFeeWaiverState(klarnaOrderId, r.id) })));
    return states.filter(({ state }) => state.fee && !state.waived).map(({ r, state }) => ({ return_id: r.id, amount: state.fee!.amount }));
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An amount in minor units as an admin reads it: "26.18 EUR" (0 decimals for JPY and the like). */
export function money(amount: number, currency: string): string {
  const code = currency.toUpperCase();
  let digits = 2;
  try {
    digits = new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    // an unknown code: two decimals
  }
  return `${(amount / 10 ** digits).toFixed(digits)} ${code}`;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function purposeOf(row: KlarnaRefund): RefundPurpose {
  switch (row.kind) {
    case "return":
    case "claim":
    case "swap":
    case "fee_waiver":
      return row.kind;
    default:
      return "manual"; // order_refund, payment_refund, unattributed
  }
}

function labelOf(row: KlarnaRefund): string {
  const id = row.resource_id ?? "";
  switch (row.kind) {
    case "return":
      return `Return ${id}`;
    case "claim":
      return `Claim ${id}`;
    case "swap":
      return `Exchange ${id}`;
    case "fee_waiver":
      return `Return fee of ${id}`;
    default:
      return row.kind === "unattributed" ? "Refund (amount only)" : "Manual refund";
  }
}

function isReturnFee(line: OrderLine): boolean {
  return line.type === "return_fee" || line.reference === RETURN_FEE_REFERENCE;
}

export function panelRefund(row: KlarnaRefund): PanelRefund {
  const request = row.request as RefundRequest | null;
  const fee = withheldFeeLine(request);
  return {
    id: row.id,
    purpose: purposeOf(row),
    resource_id: row.resource_id,
    label: labelOf(row),
    amount: row.amount,
    status: row.status,
    klarna_refund_id: row.klarna_refund_id,
    idempotency_key: row.idempotency_key,
    source: row.source,
    lines: (request?.order_lines ?? []).map((l) => ({
      name: l.name,
      type: l.type ?? null,
      reference: l.reference ?? null,
      quantity: l.quantity,
      total_amount: l.total_amount,
      is_return_fee: isReturnFee(l),
    })),
    return_fee: fee ? { amount: -fee.total_amount, line_type: fee.type ?? "return_fee" } : null,
    error: errorOf(row),
    attempts: row.attempts,
    notes: row.notes ?? [],
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

/**
 * The ledger keeps Klarna's error fields (status, error_code, error_messages, correlation_id) or a
 * refund-plan error (code, field, message); the panel shows them as the admin saw them when the
 * refund failed, worded by the one error mapper.
 */
function errorOf(row: KlarnaRefund): PanelRefund["error"] {
  const e = row.error as Record<string, any> | null;
  if (!e) return null;
  if (Array.isArray(e.error_messages) || typeof e.error_code === "string") {
    const err = new KlarnaApiError({
      status: typeof e.status === "number" ? e.status : undefined,
      error_code: String(e.error_code ?? "UNKNOWN"),
      error_messages: Array.isArray(e.error_messages) ? e.error_messages.map(String) : [],
      correlation_id: typeof e.correlation_id === "string" ? e.correlation_id : undefined,
    });
    return {
      message: paymentError("refund", err).error,
      code: err.error_code,
      correlation_id: err.correlation_id ?? row.correlation_id ?? null,
      http_status: err.status ?? null,
    };
  }
  return { message: String(e.message ?? "The refund failed."), code: typeof e.code === "string" ? e.code : null, correlation_id: row.correlation_id ?? null, http_status: null };
}

export function expiryOf(order: Pick<KlarnaOrder, "expires_at" | "remaining_authorized_amount">, now: Date): OrderPanel["klarna"]["expiry"] {
  // Only an authorisation with something left to capture can expire in a way that matters.
  if (!order.expires_at || order.remaining_authorized_amount <= 0) return null;
  const ms = new Date(order.expires_at).getTime() - now.getTime();
  const days_left = Math.ceil(ms / DAY_MS);
  return { state: ms <= 0 ? "past" : days_left <= EXPIRY_NEAR_DAYS ? "near" : "ok", days_left: Math.max(days_left, 0) };
}

/**
 * The first findings, from what the panel already has. The reconciler (a later issue) adds its own;
 * each says what is wrong and what to do.
 */
function findingsOf(
  klarna: { captured: number; refunded: number } | null,
  medusa: { captured: number; refunded: number },
  refunds: PanelRefund[],
  currency: string,
): PanelFinding[] {
  const m = (amount: number) => money(amount, currency);
  const out: PanelFinding[] = [];
  if (klarna && klarna.captured !== medusa.captured) {
    out.push({
      kind: "captured_mismatch",
      message: `Klarna has captured ${m(klarna.captured)}, Medusa records ${m(medusa.captured)}.`,
      suggested_action: klarna.captured > medusa.captured ? "Capture the payment in Medusa: the plugin records Klarna's capture without capturing again." : "Retry the capture.",
    });
  }
  if (klarna && klarna.refunded !== medusa.refunded) {
    out.push({
      kind: "refunded_mismatch",
      message: `Klarna has refunded ${m(klarna.refunded)}, Medusa records ${m(medusa.refunded)}.`,
      suggested_action:
        klarna.refunded > medusa.refunded
          ? "Check unsettled refunds with Klarna, then receive the return (or refund) again in Medusa: a refund Klarna already made is recorded, not sent again."
          : "Look for a refund Medusa recorded that Klarna refused or never received.",
    });
  }
  for (const r of refunds.filter((x) => x.status === "unknown" || x.status === "pending")) {
    out.push({
      kind: "refund_unsettled",
      message: `${r.label}: Klarna's answer to the refund of ${m(r.amount)} never arrived (status ${r.status}).`,
      suggested_action: "Check it with Klarna now.",
    });
  }
  return out;
}
