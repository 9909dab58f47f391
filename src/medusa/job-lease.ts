import { v4 as uuidv4 } from "uuid";
import type { PluginDatabase } from "./plugin-db";

/** How long a run may hold its job before another instance may take it (a crashed run lets go then). */
const RUN_LIMIT = "10 minutes";

/**
 * One run of a scheduled job at a time across the store's instances (table `klarna_job_lease`, one row
 * per job): the reconciler and the authorisation extension take it before a run and let go after.
 */
export class JobLease {
  private constructor(
    private readonly db: PluginDatabase,
    readonly name: string,
    private readonly token: string,
    /** When the job last completed a run (null: never). */
    readonly lastRunAt: Date | null,
    /** The database's clock when this run took the job. */
    readonly startedAt: Date,
  ) {}

  /** Takes the job for a run; undefined when another instance's run holds it. */
  static async take(db: PluginDatabase, name: string): Promise<JobLease | undefined> {
    const token = uuidv4();
    const [row] = await db.query<{ last_run_at: Date | null; started_at: Date }>(
      `INSERT INTO klarna_job_lease AS j (name, claimed_by, claimed_until) VALUES ($1, $2, now() + interval '${RUN_LIMIT}')
       ON CONFLICT (name) DO UPDATE SET claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until
         WHERE j.claimed_by IS NULL OR j.claimed_until < now()
       RETURNING last_run_at, now() AS started_at`,
      [name, token],
    );
    return row ? new JobLease(db, name, token, row.last_run_at, row.started_at) : undefined;
  }

  /** Records that the run completed, as of `at` (default: now). */
  async completed(at?: Date): Promise<void> {
    await this.db.query(`UPDATE klarna_job_lease SET last_run_at = COALESCE($3::timestamptz, now()) WHERE name = $1 AND claimed_by = $2`, [
      this.name,
      this.token,
      at ?? null,
    ]);
  }

  /** Lets the job go. */
  async release(): Promise<void> {
    await this.db.query(`UPDATE klarna_job_lease SET claimed_by = NULL, claimed_until = NULL WHERE name = $1 AND claimed_by = $2`, [
      this.name,
      this.token,
    ]);
  }
}
