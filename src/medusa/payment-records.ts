/**
 * Writes to Medusa's payment rows outside Medusa's own requests (an admin route of the plugin, a job, a
 * subscriber), each in a transaction of its own on Medusa's manager: Medusa 1.x services are
 * singletons, and a write through one without `withTransaction` joins whatever transaction the
 * singleton was last given. Medusa has no service call that changes a payment's data or amount
 * (PaymentService.update sets order_id and swap_id only), so the statement is the plugin's own; it
 * merges into `data` rather than replacing it, so a concurrent write of another key is kept.
 */

type Manager = { transaction<T>(fn: (m: { query(sql: string, params?: unknown[]): Promise<any> }) => Promise<T>): Promise<T> };
type Cradle = Record<string, any>;

export class PaymentRecords {
  constructor(private readonly medusa: Cradle) {}

  private manager(): Manager {
    return this.medusa.manager as Manager;
  }

  /** Merges `patch` into the payment's data. */
  async mergeData(paymentId: string, patch: Record<string, unknown>): Promise<void> {
    await this.manager().transaction((m) =>
      m.query(`UPDATE payment SET data = data || $2::jsonb, updated_at = now() WHERE id = $1`, [paymentId, JSON.stringify(patch)]),
    );
  }

  /**
   * Sets what Medusa will record as captured (the payment's amount) to what Klarna now authorises,
   * while the payment is not captured. Answers whether the row changed.
   */
  async setAuthorizedAmount(paymentId: string, amount: number, patch: Record<string, unknown>): Promise<boolean> {
    const rows = await this.manager().transaction((m) =>
      m.query(
        `UPDATE payment SET amount = $2, data = data || $3::jsonb, updated_at = now()
          WHERE id = $1 AND captured_at IS NULL AND canceled_at IS NULL RETURNING id`,
        [paymentId, amount, JSON.stringify(patch)],
      ),
    );
    // TypeORM's query answers [rows, count] for UPDATE … RETURNING on PostgreSQL.
    const list = Array.isArray(rows?.[0]) ? rows[0] : rows;
    return Array.isArray(list) && list.length > 0;
  }
}
