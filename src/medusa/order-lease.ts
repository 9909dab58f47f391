import { v4 as uuidv4 } from "uuid";
import { MANUAL_KINDS_SQL } from "../models/ledger-entry";
import { KlarnaPluginRefusal } from "./payment-error";
import { LedgerRow, ROW_JSON, toRow } from "./ledger";
import { PluginDatabase } from "./plugin-db";
import type { RequestScope } from "./request-context";
import { medusaRecordedSql } from "./store-queries";

/**
 * One money movement per Klarna order at a time. A request that refunds (or settles a refund of) a
 * Klarna order first takes the order's lease, a row in `klarna_order_state`, and keeps it until the
 * HTTP request is over, i.e. until Medusa has committed or rolled back what it did: the next attempt
 * on the order then sees every earlier attempt's final state, never a half-done one, and Medusa's
 * payment row is never updated by two refunds at once.
 *
 * The lease is short and renewed while its request lives (a heartbeat), so when a process dies
 * (kill -9, a crash, PostgreSQL restarting under it) its lease lapses within LEASE_S and a retry goes
 * through. Nobody holds a database connection while waiting: an earlier design did, and deadlocked
 * under 20 concurrent receives.
 */
export const LEASE_S = 10;
export const HEARTBEAT_MS = 2500;
/** A heartbeat older than this means the holder's process is probably gone. */
export const STALE_S = 6;
/** How long a request waits for a live holder before answering "busy". */
export const WAIT_MS = 8000;

/**
 * Whether Medusa committed the refund of ledger row `r`: its payment data carries the row's intent
 * (services/klarna.ts refundPayment; Medusa saves it with its refund row). $3: the request's own word,
 * for a row without a Medusa order.
 */
const MEDUSA_STATE = `CASE WHEN ${medusaRecordedSql("r.order_id", "r.intent")}
    OR (r.order_id IS NULL AND $3 = 'recorded') THEN 'recorded' ELSE 'not_recorded' END`;

/**
 * The ledger entries an attempt needs (`relevant`): its own intent's, and every entry of the order that is not
 * settled (not refused outright, nor made by Klarna and recorded by Medusa). Settled entries stay in
 * the table, unread: an order with thousands of refunds costs the same as one with a few.
 */
const relevant = (order: string, intent: string) => `r.klarna_order_id = ${order} AND (r.intent = ${intent} OR NOT (r.status = 'failed'
  OR (r.status = 'succeeded' AND r.medusa_state IN ('recorded', 'adopted'))))`;

interface Holder {
  purpose: string | null;
  started_s: number;
  beat_s: number | null;
  lapses_in_s: number;
}

export class OrderLeases {
  constructor(
    private readonly db: PluginDatabase,
    private readonly log?: (message: string) => void,
  ) {}

  /**
   * Takes the Klarna order's lease and reads every ledger entry of the order in the same statement.
   * Inside a request that already holds it (a second refund of the same order), reuses it; `fresh`
   * tells the caller whether it took the lease now (and so must release it).
   */
  async acquire(
    klarnaOrderId: string,
    orderId: string | null,
    purpose: string,
    scope?: RequestScope,
    waitMs = WAIT_MS,
    intent = "",
  ): Promise<HeldLease> {
    const held = scope?.leases.get(klarnaOrderId) as HeldLease | undefined;
    if (held && !held.released) {
      held.rows = await this.rows(klarnaOrderId, intent);
      return held;
    }
    const token = uuidv4();
    const until = Date.now() + waitMs;
    let delay = 25;
    for (;;) {
      const [res] = await this.db.query<{
        claimed: string | number;
        rows: Record<string, unknown>[];
        manual_max: number | null;
        holder: Holder | null;
      }>(
        `WITH claimed AS (
           INSERT INTO klarna_order_state AS s (klarna_order_id, order_id, claimed_by, claimed_until, claim_started_at, heartbeat_at, claim_purpose)
           VALUES ($1, $2, $3, now() + make_interval(secs => $4), now(), now(), $5)
           ON CONFLICT (klarna_order_id) DO UPDATE SET
             claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until, claim_started_at = now(), heartbeat_at = now(),
             claim_purpose = EXCLUDED.claim_purpose, order_id = COALESCE(s.order_id, EXCLUDED.order_id), updated_at = now()
           WHERE s.claimed_by IS NULL OR s.claimed_until < now()
           RETURNING 1)
         SELECT (SELECT count(*) FROM claimed) AS claimed,
                (SELECT COALESCE(json_agg(${ROW_JSON} ORDER BY r.created_at), '[]') FROM klarna_refund r WHERE ${relevant("$1", "$6")}) AS rows,
                (SELECT max(NULLIF(split_part(intent, ':', 3), '')::int) FROM klarna_refund WHERE klarna_order_id = $1 AND ${MANUAL_KINDS_SQL}) AS manual_max,
                (SELECT json_build_object(
                   'purpose', h.claim_purpose,
                   'started_s', EXTRACT(EPOCH FROM now() - h.claim_started_at),
                   'beat_s', EXTRACT(EPOCH FROM now() - h.heartbeat_at),
                   'lapses_in_s', EXTRACT(EPOCH FROM h.claimed_until - now()))
                   FROM klarna_order_state h WHERE h.klarna_order_id = $1) AS holder`,
        [klarnaOrderId, orderId, token, LEASE_S, purpose.slice(0, 255), intent],
      );
      if (Number(res.claimed) === 1) {
        const lease = new HeldLease(this.db, klarnaOrderId, token, (res.rows ?? []).map(toRow), Number(res.manual_max ?? 0), this.log);
        // The caller releases it: after the request, once it has recorded what Medusa did (exactly-once.ts).
        if (scope) scope.leases.set(klarnaOrderId, lease);
        return lease;
      }
      const holder = res.holder;
      if (holder) {
        // No heartbeat: the row was free in this statement's snapshot, and another attempt took it
        // between the snapshot and the claim (READ COMMITTED): a live holder, not a stopped one.
        const beat = holder.beat_s === null ? 0 : Number(holder.beat_s);
        const lapse = Math.max(1, Math.ceil(Number(holder.lapses_in_s)));
        const what = holder.purpose ? ` (${holder.purpose}, started ${Math.round(Number(holder.started_s))} s ago)` : "";
        if (beat > STALE_S) {
          throw new KlarnaPluginRefusal(
            "EARLIER_ATTEMPT_STOPPED",
            `An earlier attempt on this Klarna order${what} stopped responding ${Math.round(beat)} s ago; its server may have crashed. Nothing was sent. Its hold on the order lapses in ${lapse} s: retry then, and the plugin settles that attempt with Klarna first.`,
            { klarna_order_id: klarnaOrderId },
          );
        }
        if (Date.now() > until) {
          throw new KlarnaPluginRefusal(
            "IN_PROGRESS",
            `Another request is working on this Klarna order right now${what}. Nothing was sent. Retry in a few seconds.`,
            { klarna_order_id: klarnaOrderId },
          );
        }
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(250, delay * 2);
    }
  }

  async rows(klarnaOrderId: string, intent = ""): Promise<LedgerRow[]> {
    const raw = await this.db.query<{ row: Record<string, unknown> }>(
      `SELECT ${ROW_JSON} AS row FROM klarna_refund r WHERE ${relevant("$1", "$2")} ORDER BY r.created_at`,
      [klarnaOrderId, intent],
    );
    return raw.map((r) => toRow(r.row));
  }
}

/** What a request did, recorded when it releases its lease (see HeldLease.release). */
export interface Settlement {
  /** Medusa committed the request's transaction. */
  committed: boolean;
  /** Ledger entries the request settled (made, reused or adopted). */
  entries: string[];
  /** Of those, the refunds Klarna made during the request: entry id → Klarna refund id. */
  made: Map<string, string>;
}

/** A lease held on one Klarna order, renewed by a heartbeat until released. */
export class HeldLease {
  released = false;
  private lostAt?: number;
  private lastBeat = Date.now();
  private readonly timer: NodeJS.Timeout;
  private releasing?: Promise<void>;

  constructor(
    private readonly db: PluginDatabase,
    readonly klarnaOrderId: string,
    readonly token: string,
    /** The ledger entries the attempt needs (see `relevant`), read with the lease. */
    public rows: LedgerRow[],
    /** The highest number of the order's manual refunds. */
    readonly manualMax: number,
    private readonly log?: (message: string) => void,
  ) {
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    if (this.released) return;
    try {
      const raw = await this.db.query(
        `UPDATE klarna_order_state SET claimed_until = now() + make_interval(secs => $3), heartbeat_at = now()
          WHERE klarna_order_id = $1 AND claimed_by = $2 RETURNING 1`,
        [this.klarnaOrderId, this.token, LEASE_S],
      );
      const rows = Array.isArray(raw[0]) ? (raw[0] as unknown[]) : raw;
      if (rows.length) this.lastBeat = Date.now();
      else this.lostAt ??= Date.now();
    } catch {
      // The database is unreachable (a restart?): the lease counts as lost once it may have lapsed.
      if (Date.now() - this.lastBeat > (LEASE_S - 1) * 1000) this.lostAt ??= Date.now();
    }
  }

  /** Whether the lease may have lapsed: then another attempt may be working on the order. */
  get lost(): boolean {
    return this.lostAt !== undefined || Date.now() - this.lastBeat > (LEASE_S - 1) * 1000;
  }

  /** Refuses to go on (to call Klarna) once the lease may have been taken over. */
  assertHeld(): void {
    if (this.lost) {
      throw new KlarnaPluginRefusal(
        "LEASE_LOST",
        "The plugin lost its hold on this Klarna order (the database did not answer in time). Nothing was sent. Retry in a few seconds.",
        { klarna_order_id: this.klarnaOrderId },
      );
    }
  }

  /**
   * Releases the lease, retrying while the database is unreachable; an unreleased lease lapses on its
   * own. With `settle`, the same statement records what the request did: the refunds Klarna made in
   * it (status, Klarna refund id) and what Medusa did with every refund the request settled.
   */
  release(settle?: Settlement): Promise<void> {
    this.releasing ??= (async () => {
      this.released = true;
      clearInterval(this.timer);
      const made = [...(settle?.made ?? new Map()).entries()];
      const others = (settle?.entries ?? []).filter((id) => !settle?.made.has(id));
      for (let attempt = 0; attempt < 6; attempt++) {
        try {
          if (!settle || (!made.length && !others.length)) {
            await this.db.query(
              `UPDATE klarna_order_state SET claimed_by = NULL, claimed_until = NULL, heartbeat_at = NULL, updated_at = now()
                WHERE klarna_order_id = $1 AND claimed_by = $2`,
              [this.klarnaOrderId, this.token],
            );
          } else {
            // What Medusa did with each refund is read from its payment data (StoreQueries.medusaRecordedRefunds):
            // the request is over, so Medusa has committed or rolled back. The request's status ($3) only
            // decides for an entry without a Medusa order.
            await this.db.query(
              `WITH made AS (
                 UPDATE klarna_refund r SET status = 'succeeded', klarna_refund_id = v.refund_id, error = NULL, correlation_id = NULL,
                        medusa_state = ${MEDUSA_STATE}, updated_at = now()
                   FROM unnest($4::uuid[], $5::text[]) AS v(id, refund_id) WHERE r.id = v.id RETURNING r.id, r.medusa_state),
               settled AS (
                 UPDATE klarna_refund r SET medusa_state = ${MEDUSA_STATE}, updated_at = now()
                  WHERE r.id = ANY($6::uuid[]) AND r.status = 'succeeded' AND r.medusa_state IS DISTINCT FROM 'adopted' RETURNING r.id, r.medusa_state),
               taken_over AS (
                 UPDATE klarna_refund SET medusa_state = 'adopted', updated_at = now()
                  WHERE medusa_state IS DISTINCT FROM 'recorded'
                    AND adopted_by IN (SELECT id FROM made WHERE medusa_state = 'recorded' UNION ALL SELECT id FROM settled WHERE medusa_state = 'recorded')
                  RETURNING id)
               UPDATE klarna_order_state SET claimed_by = NULL, claimed_until = NULL, heartbeat_at = NULL, updated_at = now()
                WHERE klarna_order_id = $1 AND claimed_by = $2`,
              [
                this.klarnaOrderId,
                this.token,
                settle.committed ? "recorded" : "not_recorded",
                made.map(([id]) => id),
                made.map(([, refund]) => refund),
                others,
              ],
            );
          }
          return;
        } catch (err) {
          if (attempt === 5) {
            this.log?.(
              `klarna: could not release the lease on Klarna order ${this.klarnaOrderId}; it lapses within ${LEASE_S} s (${err instanceof Error ? err.message : err})`,
            );
            return;
          }
          await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        }
      }
    })();
    return this.releasing;
  }
}
