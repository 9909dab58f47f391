import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Klarna's pending-order notifications name a Klarna order; the plugin finds the cart that placed it
 * by its Klarna payment session (`data->>'order_id'`) before it asks Klarna anything, so a flood of
 * notifications for orders that are not this store's costs an index lookup, not a Klarna call each
 * (Klarna's rate limit is per merchant). A partial expression index on Medusa's payment_session,
 * Klarna sessions only; it changes no column or row of Medusa's.
 */
export class KlarnaNotificationLookup1765238400000 implements MigrationInterface {
  name = "KlarnaNotificationLookup1765238400000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS "IDX_klarna_payment_session_order" ON "payment_session" ((data->>'order_id')) WHERE provider_id = 'klarna'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS "IDX_klarna_payment_session_order"`);
  }
}
