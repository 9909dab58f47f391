import type { QueryRunner } from "typeorm";
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
 * intent), holding the idempotency key. Every write commits at once on the plugin's own connection,
 * before and after the Klarna call, so the key survives a rollback of the Medusa request.
 *
 * Concurrency: attempts for one intent are serialised by a Postgres advisory lock held on a dedicated
 * connection (released when the HTTP request that asked for the refund is over, or when the connection
 * ends), so two admins or two server instances cannot both send it.
 */
export class RefundLedger {
  constructor(private readonly db: PluginDatabase) {}

  private repo(runner: QueryRunner) {
    return runner.manager.getRepository(KlarnaRefund);
  }

  /** Takes the intent's lock on this connection; waits while another attempt holds it. */
  async lock(runner: QueryRunner, intent: LedgerIntent): Promise<void> {
    await runner.query(`SELECT pg_advisory_lock(hashtext($1))`, [lockName(intent)]);
  }

  async unlock(runner: QueryRunner, intent: LedgerIntent): Promise<void> {
    await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [lockName(intent)]);
  }

  /** The intent's row, created (committed) with a fresh key when it does not exist yet. */
  async ensure(runner: QueryRunner, intent: LedgerIntent, amount: number): Promise<KlarnaRefund> {
    await this.repo(runner)
      .createQueryBuilder()
      .insert()
      .into(KlarnaRefund)
      .values({
        id: uuidv4(),
        ...intent,
        idempotency_key: uuidv4(),
        amount,
        status: "pending",
        attempts: 0,
        request: null,
        klarna_refund_id: null,
        correlation_id: null,
        error: null,
        notes: null,
        key_first_sent_at: null,
      })
      .orIgnore()
      .execute();
    return this.repo(runner).findOneByOrFail({ klarna_order_id: intent.klarna_order_id, intent: intent.intent });
  }

  async update(runner: QueryRunner, id: string, patch: Partial<KlarnaRefund>): Promise<KlarnaRefund> {
    await this.repo(runner).update({ id }, patch as never);
    return this.repo(runner).findOneByOrFail({ id });
  }

  async find(klarnaOrderId: string, intent: string): Promise<KlarnaRefund | null> {
    const ds = await this.db.dataSource();
    return ds.getRepository(KlarnaRefund).findOneBy({ klarna_order_id: klarnaOrderId, intent });
  }

  async listForResource(resourceId: string): Promise<KlarnaRefund[]> {
    const ds = await this.db.dataSource();
    return ds.getRepository(KlarnaRefund).find({ where: { resource_id: resourceId }, order: { created_at: "ASC" } });
  }

  async listForOrder(klarnaOrderId: string): Promise<KlarnaRefund[]> {
    const ds = await this.db.dataSource();
    return ds.getRepository(KlarnaRefund).find({ where: { klarna_order_id: klarnaOrderId }, order: { created_at: "ASC" } });
  }
}

function lockName(intent: LedgerIntent): string {
  return `klarna_refund:${intent.klarna_order_id}:${intent.intent}`;
}

export type { KlarnaRefund, KlarnaRefundStatus };
