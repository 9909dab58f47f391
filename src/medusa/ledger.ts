import { v4 as uuidv4 } from "uuid";
import type { LedgerEntry, RefundKind } from "../models/ledger-entry";
import type { RowView } from "./refund-decision";
import { PluginDatabase } from "./plugin-db";

/** What identifies a refund intent in the ledger. */
export interface LedgerIntent {
  klarna_order_id: string;
  intent: string;
  kind: RefundKind;
  resource_id: string | null;
  order_id: string | null;
  source: string;
  currency_code: string | null;
}

/** A ledger entry with its ages in seconds, from the database's clock (never the app's). */
export interface LedgerRow extends LedgerEntry {
  key_age_s: number | null;
  last_sent_age_s: number | null;
}

/** The columns of a row, with ages computed by PostgreSQL. */
export const ROW_JSON = `to_jsonb(r) || jsonb_build_object(
  'key_age_s', EXTRACT(EPOCH FROM now() - r.key_first_sent_at),
  'last_sent_age_s', EXTRACT(EPOCH FROM now() - r.last_sent_at))`;

/** The first nine columns of a new entry ($1–$9): its id, the intent, and a fresh idempotency key. */
function newEntry(intent: LedgerIntent): unknown[] {
  return [
    uuidv4(),
    intent.klarna_order_id,
    intent.intent,
    intent.kind,
    intent.resource_id,
    intent.order_id,
    intent.source,
    intent.currency_code,
    uuidv4(),
  ];
}

/** A row as the exactly-once decision sees it. */
export function rowView(row: LedgerRow | null | undefined): RowView | null {
  if (!row) return null;
  return {
    status: row.status,
    amount: row.amount,
    keySent: row.key_first_sent_at !== null,
    keyAgeS: row.key_age_s === null ? null : Number(row.key_age_s),
    lastSentAgeS: row.last_sent_age_s === null ? null : Number(row.last_sent_age_s),
    medusa: row.medusa_state,
    klarnaRefundId: row.klarna_refund_id,
  };
}

export function toRow(raw: Record<string, unknown>): LedgerRow {
  const row = { ...raw } as unknown as LedgerRow;
  for (const k of ["key_first_sent_at", "last_sent_at", "created_at", "updated_at"] as const) {
    const v = raw[k];
    (row as unknown as Record<string, unknown>)[k] = v === null || v === undefined ? null : new Date(v as string);
  }
  row.key_age_s = raw.key_age_s === null || raw.key_age_s === undefined ? null : Number(raw.key_age_s);
  row.last_sent_age_s = raw.last_sent_age_s === null || raw.last_sent_age_s === undefined ? null : Number(raw.last_sent_age_s);
  row.amount = Number(raw.amount);
  row.attempts = Number(raw.attempts ?? 0);
  return row;
}

/**
 * The refund ledger (table `klarna_refund`): one entry per refund intent, keyed by (Klarna order,
 * intent), holding the idempotency key. Every write is a single statement on the plugin's own pool,
 * committed at once, before and after the Klarna call, so the key survives a rollback of the Medusa
 * request. Writes happen under the Klarna order's lease (order-lease.ts): one money movement per
 * Klarna order at a time.
 */
export class RefundLedger {
  constructor(private readonly db: PluginDatabase) {}

  private async many(sql: string, params: unknown[]): Promise<LedgerRow[]> {
    const raw = await this.db.query<Record<string, unknown>>(sql, params);
    // UPDATE … RETURNING answers [rows, count] through TypeORM's postgres driver.
    const list = Array.isArray(raw[0]) ? (raw[0] as unknown as Record<string, unknown>[]) : raw;
    return list.map((r) => toRow((r.row ?? r) as Record<string, unknown>));
  }

  async rowsForOrder(klarnaOrderId: string): Promise<LedgerRow[]> {
    return this.many(`SELECT ${ROW_JSON} AS row FROM klarna_refund r WHERE r.klarna_order_id = $1 ORDER BY r.created_at`, [klarnaOrderId]);
  }

  /**
   * Writes the intent's entry with the request about to be sent, in one committed statement: a new
   * entry with a fresh key, or the existing one with its key kept or replaced.
   */
  async beforeSend(
    intent: LedgerIntent,
    amount: number,
    reference: string | null,
    request: unknown,
    key: "keep" | "new",
    notes: string[] = [],
  ): Promise<LedgerRow> {
    const [row] = await this.many(
      `INSERT INTO klarna_refund AS r (id, klarna_order_id, intent, kind, resource_id, order_id, source, currency_code,
                                       idempotency_key, amount, reference, request, status, attempts, key_first_sent_at, last_sent_at, notes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', 1, now(), now(), $14)
       ON CONFLICT (klarna_order_id, intent) DO UPDATE SET
         idempotency_key = CASE WHEN $13 THEN EXCLUDED.idempotency_key ELSE r.idempotency_key END,
         key_first_sent_at = CASE WHEN $13 OR r.key_first_sent_at IS NULL THEN now() ELSE r.key_first_sent_at END,
         status = CASE WHEN $13 THEN 'pending' ELSE r.status END,
         amount = EXCLUDED.amount, reference = EXCLUDED.reference, request = EXCLUDED.request, source = EXCLUDED.source,
         attempts = r.attempts + 1, last_sent_at = now(), error = NULL, updated_at = now(),
         notes = CASE WHEN jsonb_array_length(EXCLUDED.notes) > 0 THEN COALESCE(r.notes, '[]'::jsonb) || EXCLUDED.notes ELSE r.notes END
       RETURNING ${ROW_JSON} AS row`,
      [...newEntry(intent), amount, reference, JSON.stringify(request), key === "new", JSON.stringify(notes)],
    );
    return row;
  }

  /** Writes an entry without sending anything (a refund taken over from Klarna's order or another entry). */
  async upsertSettled(intent: LedgerIntent, amount: number, reference: string | null, klarnaRefundId: string, notes: string[]): Promise<LedgerRow> {
    const [row] = await this.many(
      `INSERT INTO klarna_refund AS r (id, klarna_order_id, intent, kind, resource_id, order_id, source, currency_code,
                                       idempotency_key, amount, reference, status, klarna_refund_id, attempts, notes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'succeeded', $12, 0, $13)
       ON CONFLICT (klarna_order_id, intent) DO UPDATE SET
         status = 'succeeded', klarna_refund_id = EXCLUDED.klarna_refund_id, amount = EXCLUDED.amount, error = NULL,
         notes = COALESCE(r.notes, '[]'::jsonb) || EXCLUDED.notes, updated_at = now()
       RETURNING ${ROW_JSON} AS row`,
      [...newEntry(intent), amount, reference, klarnaRefundId, JSON.stringify(notes)],
    );
    return row;
  }

  async update(id: string, patch: Partial<LedgerEntry>, note?: string): Promise<LedgerRow> {
    const keys = Object.keys(patch) as Array<keyof LedgerEntry>;
    const sets = keys.map((k, i) => `"${String(k)}" = $${i + 3}`);
    const values = keys.map((k) => {
      const v = patch[k];
      return v !== null && typeof v === "object" && !(v instanceof Date) ? JSON.stringify(v) : v;
    });
    const [row] = await this.many(
      `UPDATE klarna_refund r SET ${[...sets, "updated_at = now()", "notes = CASE WHEN $2::text IS NULL THEN r.notes ELSE COALESCE(r.notes, '[]'::jsonb) || jsonb_build_array($2::text) END"].join(", ")}
        WHERE r.id = $1 RETURNING ${ROW_JSON} AS row`,
      [id, note ?? null, ...values],
    );
    return row;
  }

  async find(klarnaOrderId: string, intent: string): Promise<LedgerRow | null> {
    const [row] = await this.many(`SELECT ${ROW_JSON} AS row FROM klarna_refund r WHERE r.klarna_order_id = $1 AND r.intent = $2`, [
      klarnaOrderId,
      intent,
    ]);
    return row ?? null;
  }

  async byId(id: string): Promise<LedgerRow | null> {
    const [row] = await this.many(`SELECT ${ROW_JSON} AS row FROM klarna_refund r WHERE r.id = $1`, [id]);
    return row ?? null;
  }

  async listForResource(resourceId: string): Promise<LedgerRow[]> {
    return this.many(`SELECT ${ROW_JSON} AS row FROM klarna_refund r WHERE r.resource_id = $1 ORDER BY r.created_at`, [resourceId]);
  }
}
