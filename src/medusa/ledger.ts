import { v4 as uuidv4 } from "uuid";
import { KlarnaRefund, KlarnaRefundStatus, RefundKind } from "../models/klarna-refund";
import { PluginDatabase } from "./plugin-db";

export interface LedgerIntent {
  klarna_order_id: string;
  intent: string;
  kind: RefundKind;
  resource_id: string | null;
  order_id: string | null;
  source: string;
  currency_code: string | null;
}

/**
 * The refund ledger (table `klarna_refund`): one row per refund intent, keyed by (Klarna order,
 * intent), holding the idempotency key. Every write is a single statement on the plugin's own pool,
 * committed at once, before and after the Klarna call, so the key survives a rollback of the Medusa
 * request.
 *
 * Concurrency: an attempt claims the row (`claimed_by`, `claimed_until`) and keeps the claim until the
 * HTTP request that asked for the refund is over, so two admins or two server instances cannot both
 * send it, and the second sees the first's final outcome. A claim is a lease held in the row, not a
 * held connection: holding a connection while waiting for Medusa to finish its request deadlocked
 * under 20 concurrent receives (the requests holding connections needed Medusa's pool, which the
 * requests waiting for connections held). A crashed holder's claim expires with its lease.
 */
export class RefundLedger {
  constructor(private readonly db: PluginDatabase) {}

  private async raw(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    const ds = await this.db.dataSource();
    const raw: Record<string, unknown>[] = await ds.query(sql, params);
    // UPDATE … RETURNING answers [rows, count] through TypeORM's postgres driver.
    return Array.isArray(raw[0]) ? (raw[0] as Record<string, unknown>[]) : raw;
  }

  private async entity(raw: Record<string, unknown>): Promise<KlarnaRefund> {
    const ds = await this.db.dataSource();
    return ds.getRepository(KlarnaRefund).create(raw as Partial<KlarnaRefund>);
  }

  private async rows(sql: string, params: unknown[]): Promise<KlarnaRefund[]> {
    return Promise.all((await this.raw(sql, params)).map((r) => this.entity(r)));
  }

  /**
   * Creates the intent's row (with a fresh key) or takes the claim on the existing one, in one
   * committed statement; undefined while another attempt holds an unexpired claim.
   */
  async claim(
    intent: LedgerIntent,
    amount: number,
    token: string,
    leaseMs: number,
    request?: unknown,
  ): Promise<{ row: KlarnaRefund; created: boolean } | undefined> {
    // A new row may carry the request it is about to send: then it is recorded as attempt 1 already.
    const raw = await this.raw(
      `INSERT INTO klarna_refund (id, klarna_order_id, intent, kind, resource_id, order_id, source, currency_code,
                                  idempotency_key, amount, status, attempts, request, key_first_sent_at, claimed_by, claimed_until)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, CASE WHEN $11 = 1 THEN now() END,
               $13, now() + ($14::int * interval '1 millisecond'))
       ON CONFLICT (klarna_order_id, intent) DO UPDATE
         SET claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until
         WHERE klarna_refund.claimed_by IS NULL OR klarna_refund.claimed_until < now()
       RETURNING *, (xmax = 0) AS created`,
      [
        uuidv4(), intent.klarna_order_id, intent.intent, intent.kind, intent.resource_id, intent.order_id, intent.source,
        intent.currency_code, uuidv4(), amount, request ? 1 : 0, request ? JSON.stringify(request) : null, token, leaseMs,
      ],
    );
    if (!raw[0]) return undefined;
    const { created, ...row } = raw[0];
    return { row: await this.entity(row), created: Boolean(created) };
  }

  async release(id: string, token: string): Promise<void> {
    await this.rows(`UPDATE klarna_refund SET claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND claimed_by = $2 RETURNING id`, [id, token]);
  }

  async update(id: string, patch: Partial<KlarnaRefund>): Promise<KlarnaRefund> {
    const keys = Object.keys(patch) as Array<keyof KlarnaRefund>;
    const sets = keys.map((k, i) => `"${String(k)}" = $${i + 2}`);
    const values = keys.map((k) => {
      const v = patch[k];
      return v !== null && typeof v === "object" && !(v instanceof Date) ? JSON.stringify(v) : v;
    });
    const [row] = await this.rows(`UPDATE klarna_refund SET ${[...sets, "updated_at = now()"].join(", ")} WHERE id = $1 RETURNING *`, [id, ...values]);
    return row;
  }

  async find(klarnaOrderId: string, intent: string): Promise<KlarnaRefund | null> {
    const [row] = await this.rows(`SELECT * FROM klarna_refund WHERE klarna_order_id = $1 AND intent = $2`, [klarnaOrderId, intent]);
    return row ?? null;
  }

  async listForResource(resourceId: string): Promise<KlarnaRefund[]> {
    return this.rows(`SELECT * FROM klarna_refund WHERE resource_id = $1 ORDER BY created_at`, [resourceId]);
  }

  /** Every refund intent of one Klarna order, oldest first (the admin panel's refund list). */
  async listForKlarnaOrder(klarnaOrderId: string): Promise<KlarnaRefund[]> {
    return this.rows(`SELECT * FROM klarna_refund WHERE klarna_order_id = $1 ORDER BY created_at`, [klarnaOrderId]);
  }

  async get(id: string): Promise<KlarnaRefund | null> {
    const [row] = await this.rows(`SELECT * FROM klarna_refund WHERE id = $1`, [id]);
    return row ?? null;
  }
}

export type { KlarnaRefund, KlarnaRefundStatus };
