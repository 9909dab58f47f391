import { KlarnaApiError } from "../klarna/errors";
import { formatMoney } from "../klarna/money";
import { RETURN_FEE_REFERENCE, withheldFeeLine } from "../klarna/refund-plan";
import type { Order as KlarnaOrder, OrderLine, RefundRequest } from "../klarna/types";
import type KlarnaPaymentProcessor from "../services/klarna";
import { PROCESSOR_KEY, PROVIDER_ID } from "./identifiers";
import type { LedgerRow } from "./ledger";
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

/** A finding of the reconciler's, or the panel's own about an unsettled refund. */
type RawFinding = Omit<PanelFinding, "klarna_refund_id"> & { klarna_refund_id?: string; amount?: number; action?: string };

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
    private readonly processor: KlarnaPaymentProcessor = scope.resolve(PROCESSOR_KEY),
  ) {}

  /** GET /admin/klarna/orders/:order_id */
  async load(orderId: string, now = new Date()): Promise<OrderPanel> {
    const order = await this.order(orderId);
    const payments = (order.payments ?? []).filter((p) => p.provider_id === PROVIDER_ID);
    if (!payments.length) throw new PanelError("not_found", `Order ${orderId} was not paid with Klarna.`);
    const data = payments.find((p) => typeof p.data?.order_id === "string")?.data ?? payments[0].data ?? {};
    const klarnaOrderId: string | null = typeof data.order_id === "string" ? data.order_id : null;

    const plugin = this.processor.plugin();
    const [read, rows, books] = await Promise.all([
      klarnaOrderId ? this.processor.readKlarnaOrder(klarnaOrderId) : Promise.resolve(undefined),
      klarnaOrderId ? plugin.ledger.rowsForOrder(klarnaOrderId) : Promise.resolve([] as LedgerRow[]),
      klarnaOrderId ? plugin.queries.medusaBooks(klarnaOrderId) : Promise.resolve(undefined),
    ]);
    const k = read?.order;
    const klarnaError = !klarnaOrderId
      ? { message: "This payment has no Klarna order yet: it was never authorised with Klarna." }
      : read?.error
        ? { message: `${read.error.error} (${read.error.detail})` }
        : null;

    const refunds = rows.map(panelRefund);
    const captured = payments.filter((p) => p.captured_at);
    // Medusa's books as the reconciler reads them: captured Klarna payments and their refund rows.
    const medusa = books ? { captured: books.captured, refunded: books.refunded } : { captured: 0, refunded: 0 };
    const klarnaBooks = k ? { captured: k.captured_amount, refunded: k.refunded_amount } : null;
    const agrees = klarnaBooks ? klarnaBooks.captured === medusa.captured && klarnaBooks.refunded === medusa.refunded : null;
    // What the reconciler finds, from what this load already read (no second Klarna call); when
    // Klarna cannot be read now, what it found last time.
    const findings: RawFinding[] =
      k && books
        ? agrees
          ? []
          : await plugin.reconciler.explain(k, books, rows)
        : klarnaOrderId
          ? await plugin.reconciler.lastFindings(klarnaOrderId)
          : [];
    for (const r of refunds.filter((x) => x.status === "unknown" || x.status === "pending")) {
      findings.push({
        kind: "refund_unsettled",
        message: `${r.label}: Klarna never confirmed the refund of ${formatMoney(r.amount, order.currency_code)} (status ${r.status}).`,
        suggested_action: "Check it with Klarna now.",
      });
    }

    // Refunds Klarna made that only an adoption can record (a retry of their request cannot).
    const adoptable = new Set(findings.filter((f) => f.klarna_refund_id && f.action === "record_refund"));
    const canceled = payments.every((p) => p.canceled_at);

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
        ? k.captures.map((c) => ({
            capture_id: c.capture_id,
            amount: c.captured_amount,
            captured_at: c.captured_at ?? null,
            reference: c.reference ?? null,
          }))
        : // Klarna unreachable: what the processor recorded when it captured (no dates there).
          (Array.isArray(data.captures) ? data.captures : []).map((c: { capture_id: string; captured_amount: number }) => ({
            capture_id: c.capture_id,
            amount: c.captured_amount,
            captured_at: null,
            reference: null,
          })),
      refunds,
      agreement: { klarna: klarnaBooks, medusa, agrees, findings: findings.map((f) => panelFinding(f, adoptable.has(f), order.currency_code)) },
      actions: {
        waive_return_fee: klarnaOrderId ? await this.waivableFees(klarnaOrderId, order) : [],
        check_refunds: refunds.filter((r) => r.status === "unknown" || r.status === "pending").map((r) => r.id),
        adopt_refunds: [...adoptable].map((f) => ({ klarna_refund_id: String(f.klarna_refund_id), amount: Number(f.amount) })),
        retry_capture: captured.length === 0 && !canceled && (k?.remaining_authorized_amount ?? 0) > 0,
        extend_authorization: !canceled && canExtendAuthorization(k, now),
      },
    };
  }

  /**
   * POST /admin/klarna/refunds/:id/check: looks for an unsettled refund on the Klarna order (one
   * Klarna call), by the `reference` its request carried. When Klarna has it, the ledger row is marked
   * succeeded with Klarna's refund id, so no attempt sends it again.
   */
  async checkRefund(ledgerId: string): Promise<RefundCheck> {
    const plugin = this.processor.plugin();
    const row = UUID.test(ledgerId) ? await plugin.ledger.byId(ledgerId) : null;
    if (!row) throw new PanelError("not_found", `No Klarna refund with id ${ledgerId} is in the plugin's ledger.`);
    const label = labelOf(row);
    if (row.status === "succeeded") {
      return {
        found: true,
        message: `${label} is already settled: Klarna refund ${row.klarna_refund_id}. Nothing to check.`,
        refund: panelRefund(row),
      };
    }
    if (row.status === "failed") {
      return {
        found: false,
        message: `Klarna refused ${label}, so it made no refund; there is nothing to look for. Fix the cause and refund again.`,
        refund: panelRefund(row),
      };
    }
    if (!row.reference) {
      return {
        found: false,
        message: `${label} was never sent to Klarna (no request is recorded), so Klarna cannot have made it.`,
        refund: panelRefund(row),
      };
    }
    // The reconciler reads the Klarna order once, under the order's lease, and adopts a refund
    // carrying this row's reference into the ledger.
    const run = await plugin.reconciler.reconcileOrder(row.klarna_order_id);
    const after = (await plugin.ledger.byId(row.id)) ?? row;
    if (run.busy) {
      return {
        found: false,
        message: `Another request is working on this Klarna order right now. Nothing was changed; check again in a few seconds.`,
        refund: panelRefund(after),
      };
    }
    if (run.klarna === null) {
      return {
        found: false,
        message: `Klarna could not be asked (${run.findings[0]?.message ?? "no answer"}). Nothing was changed; check again later.`,
        refund: panelRefund(after),
      };
    }
    if (after.status === "succeeded") {
      return {
        found: true,
        message: `Klarna made ${label}: refund ${after.klarna_refund_id} of ${formatMoney(after.amount, after.currency_code ?? order_currency(run))}. Marked as succeeded; it will not be sent again.`,
        refund: panelRefund(after),
      };
    }
    return {
      found: false,
      message: `Klarna order ${row.klarna_order_id} has no refund with reference ${row.reference}: Klarna has not made it. Retrying it is safe: the retry reuses the same idempotency key.`,
      refund: panelRefund(after),
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

function order_currency(run: { currency_code: string | null }): string {
  return run.currency_code ?? "";
}

function purposeOf(row: LedgerRow): RefundPurpose {
  switch (row.kind) {
    case "return":
    case "claim":
    case "swap":
    case "fee_waiver":
    case "adoption":
      return row.kind;
    default:
      return "manual"; // order_refund, payment_refund, unattributed
  }
}

function labelOf(row: LedgerRow): string {
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
    case "adoption":
      return `Recorded Klarna refund ${row.klarna_refund_id}`;
    default:
      return row.kind === "unattributed" ? "Refund (amount only)" : "Manual refund";
  }
}

function isReturnFee(line: OrderLine): boolean {
  return line.type === "return_fee" || line.reference === RETURN_FEE_REFERENCE;
}

export function panelRefund(row: LedgerRow): PanelRefund {
  const request = row.request as RefundRequest | null;
  const fee = withheldFeeLine(request);
  return {
    id: row.id,
    purpose: purposeOf(row),
    resource_id: row.resource_id,
    label: labelOf(row),
    amount: row.amount,
    status: row.status,
    medusa_state: row.medusa_state,
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
function errorOf(row: LedgerRow): PanelRefund["error"] {
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
  return {
    message: String(e.message ?? "The refund failed."),
    code: typeof e.code === "string" ? e.code : null,
    correlation_id: row.correlation_id ?? null,
    http_status: null,
  };
}

export function expiryOf(
  order: Pick<KlarnaOrder, "expires_at" | "remaining_authorized_amount"> & { status?: string },
  now: Date,
): OrderPanel["klarna"]["expiry"] {
  // Klarna says so: the authorisation is gone (its remaining amount is then 0).
  if (order.status === "EXPIRED") return { state: "past", days_left: 0 };
  // Only an authorisation with something left to capture can expire in a way that matters.
  if (!order.expires_at || order.remaining_authorized_amount <= 0) return null;
  const ms = new Date(order.expires_at).getTime() - now.getTime();
  const days_left = Math.ceil(ms / DAY_MS);
  return { state: ms <= 0 ? "past" : days_left <= EXPIRY_NEAR_DAYS ? "near" : "ok", days_left: Math.max(days_left, 0) };
}

/**
 * Whether the panel offers "Extend authorisation": Klarna extends the time to capture only while
 * something authorised is left to capture and the authorisation has not ended (Klarna's docs "Extend
 * order authorization time": an expired, cancelled or fully captured order cannot be extended).
 * Klarna's own limit (180 days after the purchase) is left to Klarna, whose refusal the panel shows.
 */
export function canExtendAuthorization(
  order: Pick<KlarnaOrder, "status" | "expires_at" | "remaining_authorized_amount"> | undefined,
  now: Date,
): boolean {
  if (!order) return false; // Klarna could not be read: nothing to decide from
  if (order.status !== "AUTHORIZED" && order.status !== "PART_CAPTURED") return false;
  if (order.remaining_authorized_amount <= 0) return false;
  return !!order.expires_at && new Date(order.expires_at).getTime() > now.getTime();
}

/**
 * A finding as the panel shows it. Where "Record refund" in the panel records the refund, the
 * suggestion says so in the panel's words instead of naming the admin route.
 */
function panelFinding(f: RawFinding, adoptable: boolean, currency: string): PanelFinding {
  const suggested_action = adoptable
    ? `Record refund: Medusa records the ${formatMoney(Number(f.amount), currency)} Klarna refunded, and nothing is sent to Klarna, so the customer is not refunded twice.`
    : f.suggested_action;
  return { kind: f.kind, message: f.message, suggested_action, klarna_refund_id: f.klarna_refund_id ?? null };
}
