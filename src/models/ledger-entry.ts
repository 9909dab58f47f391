import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from "typeorm";

import type { LedgerStatus, MedusaState } from "../medusa/refund-decision";

export type { LedgerStatus, MedusaState };
export type RefundKind = "return" | "claim" | "swap" | "order_refund" | "payment_refund" | "fee_waiver" | "adoption" | "unattributed";
/** Refunds asked for by hand (not a return, claim, swap or give-back): numbered per Klarna order, `refund:<order>:<n>`. */
export const MANUAL_KINDS: readonly RefundKind[] = ["order_refund", "payment_refund", "unattributed"];
/** The same, as an SQL condition on `klarna_refund.kind`. */
export const MANUAL_KINDS_SQL = `kind IN (${MANUAL_KINDS.map((k) => `'${k}'`).join(", ")})`;

/**
 * One entry of the refund ledger (table `klarna_refund`): one per refund intent (a return, a claim, a
 * swap, a manual refund, a fee give-back), written and committed before Klarna is called, so its
 * idempotency key outlives a rollback of the request that asked for the refund. Holds no credential.
 */
@Entity("klarna_refund")
@Index("IDX_klarna_refund_intent", ["klarna_order_id", "intent"], { unique: true })
export class LedgerEntry {
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

  /** Klarna-Idempotency-Key (UUID v4), reused on every retry while it may have made a refund. */
  @Column({ type: "uuid" })
  idempotency_key!: string;

  @Column({ type: "integer" })
  amount!: number;

  @Column({ type: "varchar", nullable: true })
  currency_code!: string | null;

  /** The `reference` sent to Klarna: how the refund is found on Klarna's order. */
  @Column({ type: "varchar", nullable: true })
  reference!: string | null;

  @Column({ type: "jsonb", nullable: true })
  request!: Record<string, unknown> | null;

  @Column({ type: "varchar" })
  status!: LedgerStatus;

  @Column({ type: "varchar", nullable: true })
  klarna_refund_id!: string | null;

  @Column({ type: "varchar", nullable: true })
  correlation_id!: string | null;

  @Column({ type: "jsonb", nullable: true })
  error!: Record<string, unknown> | null;

  /** Notes on what the plugin decided (fallbacks, fee treatment, adoptions). */
  @Column({ type: "jsonb", nullable: true })
  notes!: string[] | null;

  @Column({ type: "integer", default: 0 })
  attempts!: number;

  /** When the current key was first sent: Klarna forgets keys after 24 hours. */
  @Column({ type: "timestamptz", nullable: true })
  key_first_sent_at!: Date | null;

  /** When the current key was last sent: a request this recent may still be in flight at Klarna. */
  @Column({ type: "timestamptz", nullable: true })
  last_sent_at!: Date | null;

  /** recorded: Medusa committed it; not_recorded: its request ended without; adopted: another entry recorded it. */
  @Column({ type: "varchar", nullable: true })
  medusa_state!: MedusaState;

  /** The entry that recorded this refund in Medusa in its place. */
  @Column({ type: "uuid", nullable: true })
  adopted_by!: string | null;

  @CreateDateColumn({ type: "timestamptz" })
  created_at!: Date;

  @UpdateDateColumn({ type: "timestamptz" })
  updated_at!: Date;
}
