import { DataSource } from "typeorm";
import { KlarnaOrderState } from "../models/klarna-order-state";
import { LedgerEntry } from "../models/ledger-entry";

/**
 * The plugin's own small connection pool to the store's database.
 *
 * Why not Medusa's `manager`: `refundPayment` runs inside Medusa's request transaction, which holds one
 * connection of Medusa's pool. Reading or writing through Medusa's root manager then needs a second
 * connection from the same pool; with as many concurrent receives as the pool has connections, every
 * request waits for a connection that only another waiting request can free. Our own pool breaks that
 * cycle, and rows written through it commit at once, outliving a rollback of the request. The plugin
 * never holds one of its connections while it waits for anything else (see ledger.ts).
 */
const pools = new Map<string, PluginDatabase>();

export class PluginDatabase {
  private ready?: Promise<DataSource>;

  private constructor(
    private readonly url: string,
    private readonly extra: Record<string, unknown>,
    private readonly schema?: string,
  ) {}

  /** One pool per database URL and process, whatever number of processor instances Medusa makes. */
  static for(url: string, extra: Record<string, unknown> = {}, schema?: string): PluginDatabase {
    let db = pools.get(url);
    if (!db) {
      db = new PluginDatabase(url, extra, schema);
      pools.set(url, db);
    }
    return db;
  }

  static async closeAll(): Promise<void> {
    const all = [...pools.values()];
    pools.clear();
    await Promise.all(all.map((db) => db.close()));
  }

  dataSource(): Promise<DataSource> {
    if (!this.ready) {
      const ds = new DataSource({
        type: "postgres",
        url: this.url,
        schema: this.schema,
        entities: [LedgerEntry, KlarnaOrderState],
        logging: false,
        // An idle pool must not keep a process alive (CLI commands, tests).
        extra: { max: 10, idleTimeoutMillis: 10_000, allowExitOnIdle: true, ...this.extra },
      });
      this.ready = ds.initialize().catch((err) => {
        this.ready = undefined;
        throw err;
      });
    }
    return this.ready;
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const ds = await this.dataSource();
    return ds.query(sql, params);
  }

  async close(): Promise<void> {
    const ready = this.ready;
    this.ready = undefined;
    if (!ready) return;
    const ds = await ready.catch(() => undefined);
    if (ds?.isInitialized) await ds.destroy();
  }
}
