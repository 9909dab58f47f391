import type { TestStore } from "./store";

/**
 * Makes Medusa's refund row impossible to write for chosen orders, so that the whole Medusa
 * transaction (a receive, a manual refund) rolls back after the plugin has refunded at Klarna: the
 * kind of failure a later step of Medusa's transaction can have. A trigger on Medusa's `refund`
 * table, installed once per file after the store is up (call after `useStore`), disarmed before
 * each test.
 *
 *   const s = useStore();
 *   const rollback = useRefundRollback(s);
 *   await rollback.arm(order.id);   // this order's refund INSERT now fails: HTTP 500
 *   await rollback.disarm();        // every order's refunds are written again
 */
export function useRefundRollback(s: TestStore): { arm(orderId: string): Promise<void>; disarm(): Promise<void> } {
  const disarm = async () => {
    await s.db.query(`DELETE FROM test_fail_refund`);
  };
  beforeAll(async () => {
    await s.db.query(`CREATE TABLE test_fail_refund (order_id text PRIMARY KEY)`);
    await s.db.query(`
      CREATE FUNCTION test_fail_refund() RETURNS trigger AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM test_fail_refund WHERE order_id = NEW.order_id) THEN
          RAISE EXCEPTION 'forced failure after Klarna refunded';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await s.db.query(`CREATE TRIGGER test_fail_refund BEFORE INSERT ON refund FOR EACH ROW EXECUTE FUNCTION test_fail_refund()`);
  });
  beforeEach(disarm);
  return {
    async arm(orderId) {
      await s.db.query(`INSERT INTO test_fail_refund VALUES ($1)`, [orderId]);
    },
    disarm,
  };
}
