import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";

/**
 * The harness's PostgreSQL (scripts/lib/postgres.js): committed data survives restart() (the chaos
 * run restarts PostgreSQL under a running store), and a start that cannot work fails at once with
 * PostgreSQL's own reason and leaves nothing behind.
 */

const { startPostgres } = require("../../scripts/lib/postgres");

interface Postgres {
  url: string;
  port: number;
  dataDir: string;
  restart(options?: { mode?: "fast" | "immediate" }): Promise<void>;
  stop(): Promise<void>;
}

let pg: Postgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.stop());

async function query<T = any>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: pg.url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

it("keeps committed rows, the port and the data directory across a fast and an immediate restart", async () => {
  await query(`CREATE TABLE survivor (id int PRIMARY KEY, note text)`);
  await query(`INSERT INTO survivor VALUES (1, 'before any restart')`);
  const { url, port, dataDir } = pg;

  await pg.restart();
  expect(await query(`SELECT note FROM survivor`)).toEqual([{ note: "before any restart" }]);
  await query(`INSERT INTO survivor VALUES (2, 'between restarts')`);

  // immediate: no shutdown checkpoint, the start replays the WAL as after a crash
  await pg.restart({ mode: "immediate" });
  expect(await query(`SELECT id, note FROM survivor ORDER BY id`)).toEqual([
    { id: 1, note: "before any restart" },
    { id: 2, note: "between restarts" },
  ]);
  expect(pg).toMatchObject({ url, port, dataDir });
}, 60_000);

it("cuts open connections on a restart; new ones work at once", async () => {
  const client = new Client({ connectionString: pg.url });
  const errors: Error[] = [];
  client.on("error", (e: Error) => errors.push(e));
  await client.connect();
  await pg.restart();
  await expect(client.query(`SELECT 1`)).rejects.toThrow();
  await client.end().catch(() => undefined);
  expect(await query(`SELECT count(*)::int AS n FROM survivor`)).toEqual([{ n: 2 }]);
}, 60_000);

it("a server that cannot start (its port is taken) fails at once with PostgreSQL's reason and leaves no folder", async () => {
  // A temp dir of its own, so other runs' folders do not count.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pg-test-"));
  fs.chmodSync(tmp, 0o755);
  const tmpdir = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    const t0 = Date.now();
    const failed = startPostgres({ port: pg.port }); // the keeper is spawned with TMPDIR set
    process.env.TMPDIR = tmpdir;
    if (tmpdir === undefined) delete process.env.TMPDIR;
    await expect(failed).rejects.toThrow(/could not bind IPv4 address "127\.0\.0\.1": Address already in use/);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith("medusa-pg-"))).toEqual([]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // the running server was not disturbed
  expect(await query(`SELECT count(*)::int AS n FROM survivor`)).toEqual([{ n: 2 }]);
}, 60_000);
