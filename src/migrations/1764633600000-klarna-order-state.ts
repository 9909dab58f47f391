import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Exactly once per Klarna order: the plugin's state per Klarna order (the lease that serialises every
 * money movement on it, and what the reconciler found), and what the ledger needs to settle earlier
 * attempts: the reference sent to Klarna, when the key was last sent, and what Medusa did with a
 * refund Klarna made. Claims move from the ledger row to the order.
 */
export class KlarnaOrderState1764633600000 implements MigrationInterface {
  name = "KlarnaOrderState1764633600000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS "klarna_order_state" (
        "klarna_order_id" character varying NOT NULL,
        "order_id" character varying,
        "claimed_by" uuid,
        "claimed_until" TIMESTAMP WITH TIME ZONE,
        "claim_started_at" TIMESTAMP WITH TIME ZONE,
        "heartbeat_at" TIMESTAMP WITH TIME ZONE,
        "claim_purpose" character varying,
        "reconciled_at" TIMESTAMP WITH TIME ZONE,
        "agrees" boolean,
        "findings" jsonb,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_klarna_order_state" PRIMARY KEY ("klarna_order_id")
      )`);
    await queryRunner.query(`CREATE INDEX IF NOT EXISTS "IDX_klarna_order_state_order" ON "klarna_order_state" ("order_id")`);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS "klarna_job_lease" (
        "name" character varying NOT NULL,
        "claimed_by" uuid,
        "claimed_until" TIMESTAMP WITH TIME ZONE,
        "last_run_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "PK_klarna_job_lease" PRIMARY KEY ("name")
      )`);
    await queryRunner.query(`ALTER TABLE "klarna_refund" ADD COLUMN IF NOT EXISTS "reference" character varying`);
    await queryRunner.query(`ALTER TABLE "klarna_refund" ADD COLUMN IF NOT EXISTS "last_sent_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "klarna_refund" ADD COLUMN IF NOT EXISTS "medusa_state" character varying`);
    await queryRunner.query(`ALTER TABLE "klarna_refund" ADD COLUMN IF NOT EXISTS "adopted_by" uuid`);
    await queryRunner.query(`UPDATE "klarna_refund" SET "reference" = "request"->>'reference' WHERE "reference" IS NULL`);
    await queryRunner.query(
      `UPDATE "klarna_refund" SET "last_sent_at" = "updated_at" WHERE "last_sent_at" IS NULL AND "key_first_sent_at" IS NOT NULL`,
    );
    // Refunds that succeeded before this migration were recorded by Medusa or settled by a retry.
    await queryRunner.query(`UPDATE "klarna_refund" SET "medusa_state" = 'recorded' WHERE "status" = 'succeeded' AND "medusa_state" IS NULL`);
    await queryRunner.query(`ALTER TABLE "klarna_refund" DROP COLUMN IF EXISTS "claimed_by"`);
    await queryRunner.query(`ALTER TABLE "klarna_refund" DROP COLUMN IF EXISTS "claimed_until"`);
    await queryRunner.query(`CREATE INDEX IF NOT EXISTS "IDX_klarna_refund_order" ON "klarna_refund" ("klarna_order_id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS "IDX_klarna_refund_order"`);
    await queryRunner.query(`ALTER TABLE "klarna_refund" ADD COLUMN IF NOT EXISTS "claimed_by" uuid`);
    await queryRunner.query(`ALTER TABLE "klarna_refund" ADD COLUMN IF NOT EXISTS "claimed_until" TIMESTAMP WITH TIME ZONE`);
    for (const c of ["reference", "last_sent_at", "medusa_state", "adopted_by"]) {
      await queryRunner.query(`ALTER TABLE "klarna_refund" DROP COLUMN IF EXISTS "${c}"`);
    }
    await queryRunner.query(`DROP TABLE IF EXISTS "klarna_job_lease"`);
    await queryRunner.query(`DROP TABLE IF EXISTS "klarna_order_state"`);
  }
}
