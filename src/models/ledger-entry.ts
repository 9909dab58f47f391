import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from "typeorm";

export type KlarnaRefundStatus = "pending" | "succeeded" | "failed" | "unknown";
export type RefundKind = "return" | "claim" | "swap" | "order_refund" | "payment_refund" | "fee_waiver" | "unattributed";

/**
 * The refund ledger: one row per refund intent (a return, a claim, a swap, a manual refund), written
 * and committed before Klarna is called, so its idempotency key outlives a rollback of the request
 * that asked for the refund. Holds no credential.
 */
@Entity("klarna_refund")
@Index("IDX_klarna_refund_intent", ["klarna_order_id", "intent"], { unique: true })
export class KlarnaRefund {
  @PrimaryColumn({ type: "uuid" })
  id!: string;

  @Column({ type: "varchar" })
  klarna_order_id!: string;

  /** What is being refunded, e.g. `return:ret_01H…`; unique per Klarna order. */
  @Column({ type: "varchar" })
  intent!: string;

  @Column({ type: "varchar" })
  kind!: RefundKind;

  /** The Medusa return / claim / swap / order id the refund belongs to. */
  @Column({ type: "varchar", nullable: true })
  resource_id!: string | null;

  @Column({ type: "varchar", nullable: true })
  order_id!: string | null;

  /** How the plugin learnt what this refund is for (request context, fallback, …). */
  @Column({ type: "varchar" })
  source!: string;

  /** Klarna-Idempotency-Key (UUID v4), reused on every retry while the outcome is unknown. */
  @Column({ type: "uuid" })
  idempotency_key!: string;

  @Column({ type: "integer" })
  amount!: number;

  @Column({ type: "varchar", nullable: true })
  currency_code!: string | null;

  @Column({ type: "jsonb", nullable: true })
  request!: Record<string, unknown> | null;

  @Column({ type: "varchar" })
  status!: KlarnaRefundStatus;

  @Column({ type: "varchar", nullable: true })
  klarna_refund_id!: string | null;

  @Column({ type: "varchar", nullable: true })
  correlation_id!: string | null;

  @Column({ type: "jsonb", nullable: true })
  error!: Record<string, unknown> | null;

  /** Notes on what the plugin decided (fallbacks, fee treatment). */
  @Column({ type: "jsonb", nullable: true })
  notes!: string[] | null;

  @Column({ type: "integer", default: 0 })
  attempts!: number;

  /** When the current key was first sent: Klarna forgets keys after 24 hours. */
  @Column({ type: "timestamptz", nullable: true })
  key_first_sent_at!: Date | null;

  /** The attempt holding the row (a lease, released when its HTTP request is over). */
  @Column({ type: "uuid", nullable: true })
  claimed_by!: string | null;

  @Column({ type: "timestamptz", nullable: true })
  claimed_until!: Date | null;

  @CreateDateColumn({ type: "timestamptz" })
  created_at!: Date;

  @UpdateDateColumn({ type: "timestamptz" })
  updated_at!: Date;
}
