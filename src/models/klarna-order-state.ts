import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from "typeorm";

/**
 * The plugin's state per Klarna order (table `klarna_order_state`): the lease that lets one money
 * movement at a time happen on the order (held by one request, renewed while it lives, released when
 * it ends), and what the reconciler last found when it compared Klarna's order with Medusa's books.
 */
@Entity("klarna_order_state")
export class KlarnaOrderState {
  @PrimaryColumn({ type: "varchar" })
  klarna_order_id!: string;

  /** The Medusa order paid by the Klarna order. */
  @Column({ type: "varchar", nullable: true })
  order_id!: string | null;

  @Column({ type: "uuid", nullable: true })
  claimed_by!: string | null;

  @Column({ type: "timestamptz", nullable: true })
  claimed_until!: Date | null;

  @Column({ type: "timestamptz", nullable: true })
  claim_started_at!: Date | null;

  /** Renewed while the holder's request lives: a stale heartbeat means its process may be gone. */
  @Column({ type: "timestamptz", nullable: true })
  heartbeat_at!: Date | null;

  /** What the holder is doing, in an admin's words ("refund of return ret_…"). */
  @Column({ type: "varchar", nullable: true })
  claim_purpose!: string | null;

  @Column({ type: "timestamptz", nullable: true })
  reconciled_at!: Date | null;

  /** Klarna's captured and refunded totals equal Medusa's, at the last reconciliation. */
  @Column({ type: "boolean", nullable: true })
  agrees!: boolean | null;

  @Column({ type: "jsonb", nullable: true })
  findings!: Array<Record<string, unknown>> | null;

  @CreateDateColumn({ type: "timestamptz" })
  created_at!: Date;

  @UpdateDateColumn({ type: "timestamptz" })
  updated_at!: Date;
}
