import { MigrationInterface, QueryRunner } from "typeorm";

export class KlarnaRefundLedger1764028800000 implements MigrationInterface {
  name = "KlarnaRefundLedger1764028800000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS "klarna_refund" (
        "id" uuid NOT NULL,
        "klarna_order_id" character varying NOT NULL,
        "intent" character varying NOT NULL,
        "kind" character varying NOT NULL,
        "resource_id" character varying,
        "order_id" character varying,
        "source" character varying NOT NULL,
        "idempotency_key" uuid NOT NULL,
        "amount" integer NOT NULL,
        "currency_code" character varying,
        "request" jsonb,
        "status" character varying NOT NULL,
        "klarna_refund_id" character varying,
        "correlation_id" character varying,
        "error" jsonb,
        "notes" jsonb,
        "attempts" integer NOT NULL DEFAULT 0,
        "key_first_sent_at" TIMESTAMP WITH TIME ZONE,
        "claimed_by" uuid,
        "claimed_until" TIMESTAMP WITH TIME ZONE,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_klarna_refund" PRIMARY KEY ("id")
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX IF NOT EXISTS "IDX_klarna_refund_intent" ON "klarna_refund" ("klarna_order_id", "intent")`);
    await queryRunner.query(`CREATE INDEX IF NOT EXISTS "IDX_klarna_refund_resource" ON "klarna_refund" ("resource_id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS "klarna_refund"`);
  }
}
