import type { KlarnaClient } from "../klarna/client";
import { formatMoney } from "../klarna/money";
import type { Order } from "../klarna/types";
import { earlierLabel } from "./exactly-once";
import { JobLease } from "./job-lease";
import type { LedgerRow, RefundLedger } from "./ledger";
import type { OrderLeases } from "./order-lease";
import { KlarnaPluginRefusal } from "./payment-error";
import type { PluginDatabase } from "./plugin-db";
import type { RefundIntents } from "./refund-intents";
import type { MedusaBooks, StoreQueries } from "./store-queries";

export type FindingKind =
  | "klarna_refund_not_in_medusa"
  | "klarna_refund_outside_plugin"
  | "medusa_refund_not_at_klarna"
  | "refunded_totals_differ"
  | "klarna_captured_more"
  | "medusa_captured_more"
  | "klarna_unreachable";

export interface Finding {
  kind: FindingKind;
  message: string;
  suggested_action: string;
  /** The suggested action as a choice a program can act on: record_refund means POST …/adopt-refund. */
  action?: "record_refund" | "retry" | "capture_in_medusa" | "manual";
  klarna_refund_id?: string;
  amount?: number;
}

export interface OrderReconciliation {
  klarna_order_id: string;
  order_id: string | null;
  display_id: number | null;
  currency_code: string | null;
  /** Klarna's captured and refunded totals equal Medusa's; null when Klarna could not be read. */
  agrees: boolean | null;
  klarna: { captured: number; refunded: number } | null;
  medusa: { captured: number; refunded: number };
  /** What the reconciler settled on its own (a refund carrying the plugin's reference, adopted into the ledger). */
  settled: string[];
  findings: Finding[];
  checked_at: string;
  /** Another request held the order: it was not checked now. */
  busy?: boolean;
}

export interface ReconciliationRun {
  checked: number;
  differing: number;
  orders: OrderReconciliation[];
  /** Another instance was running it: nothing was done now. */
  skipped?: boolean;
}

const JOB = "klarna-reconciliation";

/**
 * Compares, per Klarna order, the plugin's ledger, Klarna's order and Medusa's books (captured and
 * refunded totals, each refund); settles what is safe to settle (a Klarna refund carrying this
 * plugin's reference is adopted into the ledger), and reports the rest with the order, the amounts
 * on each side and a suggested action. Runs on a schedule where the store has Redis (src/jobs), on
 * demand (GET /admin/klarna/reconciliation), and after a refund whose outcome stayed unknown.
 */
export class Reconciler {
  constructor(
    private readonly deps: {
      db: PluginDatabase;
      client: KlarnaClient;
      queries: StoreQueries;
      ledger: RefundLedger;
      intents: RefundIntents;
      /** The Klarna orders' leases, shared with the refunds: a reconciliation waits for none. */
      leases: OrderLeases;
      log?: (message: string) => void;
    },
  ) {}

  /**
   * Reconciles the given Klarna orders, or those with activity since the last run (all of them on
   * the first run, or with `all`). Runs of several instances do not collide: one holds a lease.
   */
  async run(opts: { klarnaOrderIds?: string[]; all?: boolean; limit?: number } = {}): Promise<ReconciliationRun> {
    const lease = await JobLease.take(this.deps.db, JOB);
    if (!lease && !opts.klarnaOrderIds) return { checked: 0, differing: 0, orders: [], skipped: true };
    try {
      const ids =
        opts.klarnaOrderIds ?? (await this.deps.queries.klarnaOrdersWithActivity(opts.all ? null : (lease?.lastRunAt ?? null), opts.limit ?? 500));
      const results: OrderReconciliation[] = [];
      for (const id of ids) results.push(await this.reconcileOrder(id));
      if (lease && !opts.klarnaOrderIds) {
        // As of when the run started: activity during the run is looked at again next time.
        await lease.completed(lease.startedAt);
      }
      const differing = results.filter((r) => r.agrees === false);
      return { checked: results.length, differing: differing.length, orders: opts.klarnaOrderIds ? results : differing };
    } finally {
      await lease?.release();
    }
  }

  /** Reconciles one Klarna order under its lease (a refund in flight on it is left alone). */
  async reconcileOrder(klarnaOrderId: string): Promise<OrderReconciliation> {
    const { queries, ledger, client } = this.deps;
    const checked_at = new Date().toISOString();
    let books = await queries.medusaBooks(klarnaOrderId);
    const base = {
      klarna_order_id: klarnaOrderId,
      order_id: books.order_id,
      display_id: books.display_id,
      currency_code: books.currency_code,
      checked_at,
    };
    let held;
    try {
      held = await this.deps.leases.acquire(klarnaOrderId, books.order_id, "a reconciliation", undefined, 0);
    } catch (err) {
      if (!(err instanceof KlarnaPluginRefusal)) throw err;
      return { ...base, agrees: null, klarna: null, medusa: pick(books), settled: [], findings: [], busy: true };
    }
    try {
      let order: Order;
      try {
        order = await client.getOrder(klarnaOrderId);
      } catch (err) {
        const finding: Finding = {
          kind: "klarna_unreachable",
          message: `Klarna's order ${klarnaOrderId} could not be read: ${err instanceof Error ? err.message : err}`,
          suggested_action: "Nothing to do: it is checked again on the next run.",
        };
        return { ...base, agrees: null, klarna: null, medusa: pick(books), settled: [], findings: [finding] };
      }
      const settled: string[] = [];
      let rows = held.rows;
      // A refund Klarna made with the reference of a ledger entry that never learnt it: adopt it.
      for (const refund of order.refunds ?? []) {
        const row = rows.find((r) => r.reference && r.reference === refund.reference && r.status !== "succeeded");
        if (!row) continue;
        await ledger.update(
          row.id,
          { status: "succeeded", klarna_refund_id: refund.refund_id, error: null },
          `Klarna's order shows refund ${refund.refund_id} with this entry's reference (found by reconciliation).`,
        );
        settled.push(
          `Klarna refund ${refund.refund_id} (${formatMoney(refund.refunded_amount, order.purchase_currency)}) was made for ${earlierLabel(row)}: recorded in the plugin's ledger.`,
        );
      }
      if (settled.length) rows = await ledger.rowsForOrder(klarnaOrderId);
      // Entries whose Medusa outcome was never written (a crash, a refund started by code): Medusa's rows tell.
      for (const row of rows.filter((r) => r.status === "succeeded" && r.medusa_state === null)) {
        const ctx = await this.deps.intents.earlierContext(row);
        if (ctx.recordedInMedusa) await ledger.update(row.id, { medusa_state: "recorded" }, "Medusa had recorded it (found by reconciliation).");
      }
      rows = await ledger.rowsForOrder(klarnaOrderId);
      books = await queries.medusaBooks(klarnaOrderId);
      const findings = await this.findings(order, books, rows);
      const agrees = order.captured_amount === books.captured && order.refunded_amount === books.refunded;
      const result: OrderReconciliation = {
        ...base,
        agrees,
        klarna: { captured: order.captured_amount, refunded: order.refunded_amount },
        medusa: pick(books),
        settled,
        findings: agrees ? [] : findings,
      };
      await this.deps.db.query(
        `INSERT INTO klarna_order_state AS s (klarna_order_id, order_id, reconciled_at, agrees, findings) VALUES ($1, $2, now(), $3, $4)
         ON CONFLICT (klarna_order_id) DO UPDATE SET reconciled_at = now(), agrees = EXCLUDED.agrees, findings = EXCLUDED.findings,
           order_id = COALESCE(s.order_id, EXCLUDED.order_id), updated_at = now()`,
        [klarnaOrderId, books.order_id, agrees, JSON.stringify(result.findings)],
      );
      if (!agrees)
        this.deps.log?.(
          `klarna: reconciliation: Klarna order ${klarnaOrderId} (order ${books.order_id}) differs from Medusa's books: ${result.findings.map((f) => f.message).join(" ")}`,
        );
      return result;
    } finally {
      await held.release();
    }
  }

  /** What the last reconciliation of a Klarna order found (the panel shows it when Klarna cannot be read). */
  async lastFindings(klarnaOrderId: string): Promise<Finding[]> {
    const [row] = await this.deps.db.query<{ findings: Finding[] | null }>(`SELECT findings FROM klarna_order_state WHERE klarna_order_id = $1`, [
      klarnaOrderId,
    ]);
    return row?.findings ?? [];
  }

  /** Explains, without changing anything, why Klarna's totals differ from Medusa's (the admin panel). */
  explain(order: Order, books: MedusaBooks, rows: LedgerRow[]): Promise<Finding[]> {
    return this.findings(order, books, rows);
  }

  /** Explains, refund by refund and capture by capture, why Klarna's totals differ from Medusa's. */
  private async findings(order: Order, books: MedusaBooks, rows: LedgerRow[]): Promise<Finding[]> {
    const currency = order.purchase_currency;
    const money = (n: number) => formatMoney(n, currency);
    const where = books.display_id ? `order #${books.display_id}` : `order ${books.order_id}`;
    const out: Finding[] = [];
    let explained = 0;
    for (const refund of order.refunds ?? []) {
      // The plugin's entries for this refund: by its id, or by the reference the plugin sent (an entry
      // whose outcome is still unknown does not know the id yet).
      const entries = rows.filter(
        (r) => r.klarna_refund_id === refund.refund_id || (!r.klarna_refund_id && r.reference && r.reference === refund.reference),
      );
      const recorded = entries.some((r) => r.medusa_state === "recorded" || r.medusa_state === "adopted");
      if (recorded) continue;
      const adopt = `POST /admin/klarna/orders/${books.order_id}/adopt-refund with {"klarna_refund_id":"${refund.refund_id}"} records it in Medusa without refunding again (or "Record refund" in the order's Klarna panel).`;
      if (!entries.length) {
        out.push({
          kind: "klarna_refund_outside_plugin",
          klarna_refund_id: refund.refund_id,
          amount: refund.refunded_amount,
          message: `Klarna refunded ${money(refund.refunded_amount)} on ${where} (Klarna refund ${refund.refund_id}${refund.reference ? `, reference ${refund.reference}` : ""}) outside this plugin, and Medusa has not recorded it.`,
          suggested_action: adopt,
          action: "record_refund",
        });
        explained += refund.refunded_amount;
        continue;
      }
      const entry = entries[0];
      const ctx = await this.deps.intents.earlierContext(entry);
      out.push({
        kind: "klarna_refund_not_in_medusa",
        klarna_refund_id: refund.refund_id,
        amount: refund.refunded_amount,
        message: `Klarna refunded ${money(refund.refunded_amount)} for ${earlierLabel(entry)} on ${where} (Klarna refund ${refund.refund_id}), but Medusa has not recorded it: the request that asked for it ended without Medusa recording it.`,
        suggested_action:
          ctx.retryable && entry.kind === "return"
            ? `Receive return ${entry.resource_id} again: the plugin records Klarna refund ${refund.refund_id} and sends nothing to Klarna.`
            : ctx.retryable
              ? `Retry ${earlierLabel(entry)}: the plugin records Klarna refund ${refund.refund_id} and sends nothing to Klarna.`
              : adopt,
        action: ctx.retryable ? "retry" : "record_refund",
      });
      explained += refund.refunded_amount;
    }
    const gap = order.refunded_amount - books.refunded;
    if (gap < 0) {
      out.push({
        kind: "medusa_refund_not_at_klarna",
        amount: -gap,
        message: `Medusa records ${money(books.refunded)} refunded on ${where}, Klarna ${money(order.refunded_amount)}: ${money(-gap)} that Medusa shows as refunded was never refunded at Klarna.`,
        suggested_action: `Refund ${money(-gap)} at Klarna (merchant portal) if the shopper is owed it, or correct Medusa's refunds of ${where}.`,
      });
    } else if (gap > 0 && gap !== explained) {
      out.push({
        kind: "refunded_totals_differ",
        amount: gap - explained,
        message: `Klarna has refunded ${money(order.refunded_amount)} on ${where} and Medusa ${money(books.refunded)}; ${money(gap - explained)} of the difference is not explained by a single refund.`,
        suggested_action: `Compare the refunds of Klarna order ${order.order_id} with Medusa's refunds of ${where}.`,
      });
    }
    if (order.captured_amount > books.captured) {
      out.push({
        kind: "klarna_captured_more",
        amount: order.captured_amount - books.captured,
        message: `Klarna has captured ${money(order.captured_amount)} on ${where}, Medusa records ${money(books.captured)} captured.`,
        suggested_action:
          books.captured === 0
            ? `Capture the payment in Medusa: the plugin records Klarna's capture and captures nothing again.`
            : `Refund the ${money(order.captured_amount - books.captured)} captured beyond Medusa's amount at Klarna, or correct the order in Medusa.`,
      });
    } else if (order.captured_amount < books.captured) {
      out.push({
        kind: "medusa_captured_more",
        amount: books.captured - order.captured_amount,
        message: `Medusa records ${money(books.captured)} captured on ${where}, but Klarna has captured ${money(order.captured_amount)}.`,
        suggested_action: `Capture the missing ${money(books.captured - order.captured_amount)} at Klarna (merchant portal), or correct Medusa's books of ${where}.`,
      });
    }
    return out;
  }
}

function pick(books: MedusaBooks): { captured: number; refunded: number } {
  return { captured: books.captured, refunded: books.refunded };
}
