#!/usr/bin/env node
// npm run chaos — does money survive faults? Two Medusa app instances on one database, the Klarna
// emulator injecting faults into at least 30 % of Klarna calls, Medusa-side rollbacks after Klarna
// refunded, the same return received on both instances at once; failed receives retried the way an
// admin would. Then it checks the invariants and exits non-zero when one fails.
//   --seed N      the fault schedule's seed (default 1)
//   --returns N   how many returns (default 200; --quick: 40)
//   --quick       a smaller run in under two minutes
//   --json        one JSON object as the last line
// @ts-check
"use strict"
process.env.MEDUSA_DISABLE_TELEMETRY = "true"
process.noDeprecation = true

const fs = require("fs")
const os = require("os")
const path = require("path")
const { parseArgs } = require("util")
const { startPostgres } = require("./lib/postgres")
const { runMigrations } = require("./lib/migrations")
const { startChild } = require("./lib/child-process")
const { capturedOrderWithReturn, receiveReturn } = require("./lib/checkout")
const { pool } = require("./lib/wait")

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    returns: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
})
const SEED = Number(values.seed)
const N = Number(values.returns ?? (values.quick ? 40 : 200))
if (!Number.isInteger(SEED) || !Number.isInteger(N) || N < 1) {
  console.error("chaos: --seed and --returns take integers")
  process.exit(2)
}

const ROOT = path.resolve(__dirname, "..")
const { createEmulator } = require("../dist/emulator")
const USERNAME = "chaos-merchant"
const PASSWORD = `chaos-secret-${SEED}-` + Math.random().toString(36).slice(2, 10)
const TIMEOUT_MS = 600
const log = (/** @type {unknown[]} */ ...a) => console.error(...a)

/**
 * mulberry32: a small seeded PRNG, so a seed replays the same fault schedule.
 * @param {number} seed
 */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rand = prng(SEED)
/**
 * @template T
 * @param {Array<[T, number]>} weights
 * @returns {T}
 */
const pick = (weights) => {
  const total = weights.reduce((s, [, w]) => s + w, 0)
  let r = rand() * total
  for (const [v, w] of weights) if ((r -= w) < 0) return v
  return weights[weights.length - 1][0]
}

/**
 * One Medusa app instance (chaos-instance.js); everything it prints goes to `logFile`.
 * @param {Record<string, string>} env
 * @param {string} logFile
 * @returns {Promise<{ url: string, seed: import("./lib/seed").Seed, stop: () => Promise<void> }>}
 */
async function startInstance(env, logFile) {
  const instance = await startChild({
    name: `a Medusa instance (log in ${logFile})`,
    script: path.join(__dirname, "chaos-instance.js"),
    env: { ...process.env, ...env },
    ready: /READY (\{.*\})\n/,
    output: fs.createWriteStream(logFile),
  })
  return { ...JSON.parse(instance.ready[1]), stop: instance.stop }
}

async function main() {
  const started = Date.now()
  /** @type {Array<() => Promise<unknown>>} */
  const stops = []
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "klarna-chaos-"))
  let failed = false
  try {
    log(`chaos: seed ${SEED}, ${N} returns, logs in ${logDir}`)
    const emulator = createEmulator({ username: USERNAME, password: PASSWORD, journal_limit: 1_000_000 })
    const emulatorUrl = await emulator.listen(0)
    stops.push(() => emulator.close())
    const pg = await startPostgres()
    stops.push(() => pg.stop())
    const env = {
      DATABASE_URL: pg.url,
      KLARNA_BASE_URL: emulatorUrl,
      KLARNA_USERNAME: USERNAME,
      KLARNA_PASSWORD: PASSWORD,
      KLARNA_TIMEOUT_MS: String(TIMEOUT_MS),
      KLARNA_PLUGIN_OPTIONS: JSON.stringify({ retries: 2, retry_base_delay_ms: 50 }),
    }
    await runMigrations({ directory: path.join(ROOT, "store"), databaseUrl: pg.url, env })

    // Medusa-side failure after Klarna refunded: while an order is listed here, writing its refund row
    // fails and the whole receive transaction rolls back.
    const { Client } = require("pg")
    const db = new Client({ connectionString: pg.url })
    await db.connect()
    stops.push(() => db.end())
    await db.query(`CREATE TABLE chaos_rollback (order_id text PRIMARY KEY)`)
    await db.query(`CREATE FUNCTION chaos_rollback() RETURNS trigger AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM chaos_rollback WHERE order_id = NEW.order_id) THEN
          RAISE EXCEPTION 'chaos: forced failure after Klarna refunded';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`)
    await db.query(`CREATE TRIGGER chaos_rollback BEFORE INSERT ON refund FOR EACH ROW EXECUTE FUNCTION chaos_rollback()`)

    const a = await startInstance({ ...env, CHAOS_SEED: "1" }, path.join(logDir, "instance-a.log"))
    stops.push(() => a.stop())
    const b = await startInstance(env, path.join(logDir, "instance-b.log"))
    stops.push(() => b.stop())
    const seed = a.seed
    const instances = [{ url: a.url, token: seed.token }, { url: b.url, token: seed.token }]

    log("chaos: preparing orders and returns…")
    // One at a time: Medusa 1.20 aborts concurrent cart completions on the same variants.
    const returns = await pool(Array.from({ length: N }), 1, () => capturedOrderWithReturn({ url: a.url, seed, provider: "klarna", emulatorUrl }))
    emulator.state.journal = []

    // The schedule: for each return, the fault on its Klarna refund path, a rollback or not, a duplicate or not.
    const schedule = returns.map((r) => ({
      ret: r,
      fault: pick(/** @type {Array<[Omit<import("../dist/emulator").FaultSpec, "path" | "times"> | null, number]>} */ ([
        [null, 25],
        [{ delay_ms: TIMEOUT_MS + 300 }, 15],
        [{ drop: "before" }, 15],
        [{ drop: "after" }, 20],
        [{ status: 503 }, 15],
        [{ status: 429, retry_after: 1 }, 10],
      ])),
      times: 1 + Math.floor(rand() * 3),
      rollback: rand() < 0.12,
      duplicate: rand() < 0.15,
      first: rand() < 0.5 ? 0 : 1,
    }))

    /** @type {Array<{ returnId: string, status: number, message?: string, injectedRollback: boolean }>} */
    const responses = []
    let secretsInResponses = 0
    /**
     * @param {import("./lib/checkout").Admin} inst
     * @param {{ returnId: string, items: import("./lib/checkout").ReturnItem[] }} ret
     * @param {boolean} injectedRollback
     */
    const receive = async (inst, ret, injectedRollback) => {
      const res = await receiveReturn(inst, ret)
      const text = typeof res.body === "string" ? res.body : JSON.stringify(res.body)
      if (text.includes(PASSWORD)) secretsInResponses++
      responses.push({ returnId: ret.returnId, status: res.status, message: res.body && res.body.message, injectedRollback })
      return res
    }
    const done = (/** @type {{ status: number, body: any }} */ res) => res.status === 200 || (res.status === 400 && /already (been )?received|already refunded through Klarna/.test(res.body && res.body.message))

    log("chaos: receiving with faults…")
    await pool(schedule, 4, async (s) => {
      const path_ = `/ordermanagement/v1/orders/${s.ret.klarnaOrderId}/refunds`
      if (s.fault) emulator.state.addFault({ method: "POST", path: path_, times: s.times, ...s.fault })
      if (s.rollback) await db.query(`INSERT INTO chaos_rollback VALUES ($1)`, [s.ret.orderId])
      const first = instances[s.first]
      let results
      if (s.duplicate) {
        results = await Promise.all([receive(first, s.ret, s.rollback), receive(instances[1 - s.first], s.ret, s.rollback)])
      } else {
        results = [await receive(first, s.ret, s.rollback)]
      }
      if (s.rollback) await db.query(`DELETE FROM chaos_rollback WHERE order_id = $1`, [s.ret.orderId])
      // The admin retries until Medusa says it is received (on either instance).
      for (let attempt = 0; !results.some(done) && attempt < 10; attempt++) {
        await new Promise((r) => setTimeout(r, 100 + Math.floor(rand() * 200)))
        results = [await receive(instances[Math.floor(rand() * 2)], s.ret, false)]
      }
    })
    await new Promise((r) => setTimeout(r, 300))

    // ---- the invariants ----------------------------------------------------------------------
    const journal = emulator.state.journal
    const klarnaCalls = journal.length
    const faulted = journal.filter((e) => e.fault_id).length
    const byReturn = new Map()
    for (const e of journal) {
      const body = /** @type {{ reference?: string } | undefined} */ (e.body)
      if (e.method !== "POST" || !e.path.endsWith("/refunds") || !body || !body.reference) continue
      if (!byReturn.has(body.reference)) byReturn.set(body.reference, [])
      byReturn.get(body.reference).push(e)
    }
    let retries = 0
    let reused = 0
    for (const attempts of byReturn.values()) {
      for (let i = 1; i < attempts.length; i++) {
        retries++
        if (attempts[i].idempotency_key === attempts[0].idempotency_key) reused++
      }
    }
    const medusaRefunds = (await db.query(`SELECT order_id, amount, reason FROM refund`)).rows
    const statuses = new Map((await db.query(`SELECT id, status FROM "return" WHERE id = ANY($1)`, [returns.map((r) => r.returnId)])).rows.map((r) => [r.id, r.status]))
    let doubleRefunds = 0
    let lostRefunds = 0
    let unreceived = 0
    let totalsEqual = true
    const mismatches = []
    for (const r of returns) {
      const order = /** @type {NonNullable<ReturnType<typeof emulator.state.orders.get>>} */ (emulator.state.orders.get(/** @type {string} */ (r.klarnaOrderId)))
      const klarnaForReturn = order.refunds.filter((x) => x.reference === r.returnId)
      const medusaForOrder = medusaRefunds.filter((x) => x.order_id === r.orderId)
      if (klarnaForReturn.length > 1) doubleRefunds++
      const medusaReturnRefunds = medusaForOrder.filter((x) => x.reason === "return").length
      if (klarnaForReturn.length !== medusaReturnRefunds) lostRefunds++
      if (statuses.get(r.returnId) !== "received") unreceived++
      const medusaTotal = medusaForOrder.reduce((s, x) => s + x.amount, 0)
      if (order.refunded_amount !== medusaTotal) {
        totalsEqual = false
        mismatches.push(`${r.orderId}: Klarna ${order.refunded_amount} vs Medusa ${medusaTotal}`)
      }
    }
    let secretsLeaked = secretsInResponses
    for (const f of fs.readdirSync(logDir)) secretsLeaked += fs.readFileSync(path.join(logDir, f), "utf8").split(PASSWORD).length - 1
    for (const table of ["klarna_refund", "payment", "payment_session", "return", "refund", "staged_job", "idempotency_key", "cart", '"order"']) {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${table} t WHERE t::text LIKE '%' || $1 || '%'`, [PASSWORD])
      secretsLeaked += rows[0].n
    }
    const errors5xx = responses.filter((r) => r.status >= 500 && !r.injectedRollback).length
    const result = {
      seed: SEED,
      returns: N,
      klarna_calls: klarnaCalls,
      faulted_calls_ratio: Math.round((faulted / Math.max(1, klarnaCalls)) * 1000) / 1000,
      injected_rollbacks: schedule.filter((s) => s.rollback).length,
      duplicate_receives: schedule.filter((s) => s.duplicate).length,
      admin_requests: responses.length,
      double_refunds: doubleRefunds,
      lost_refunds: lostRefunds,
      unreceived_returns: unreceived,
      key_reuse_ratio: retries ? Math.round((reused / retries) * 1000) / 1000 : 1,
      retries,
      klarna_total_eq_medusa_total: totalsEqual,
      errors_5xx: errors5xx,
      secrets_leaked: secretsLeaked,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    }
    /** @type {Array<[string, boolean]>} */
    const checks = [
      ["double_refunds", result.double_refunds === 0],
      ["lost_refunds", result.lost_refunds === 0],
      ["unreceived_returns", result.unreceived_returns === 0],
      ["key_reuse_ratio", result.key_reuse_ratio === 1],
      ["klarna_total_eq_medusa_total", result.klarna_total_eq_medusa_total],
      ["errors_5xx", result.errors_5xx === 0],
      ["secrets_leaked", result.secrets_leaked === 0],
      ["faulted_calls_ratio >= 0.3", result.faulted_calls_ratio >= 0.3],
    ]
    failed = checks.some(([, ok]) => !ok)
    console.log(`\nmedusa-plugin-klarna chaos run: seed ${SEED}, ${N} returns, 2 Medusa instances, ${result.seconds} s`)
    console.log(`  ${klarnaCalls} Klarna calls, ${faulted} hit by a fault (${(result.faulted_calls_ratio * 100).toFixed(1)} %); ${result.injected_rollbacks} Medusa rollbacks after Klarna refunded; ${result.duplicate_receives} returns received on both instances at once; ${result.admin_requests} admin receive requests`)
    for (const [name, ok] of checks) console.log(`  ${ok ? "ok  " : "FAIL"} ${name.padEnd(30)} ${JSON.stringify(result[/** @type {keyof typeof result} */ (name.split(" ")[0])])}`)
    for (const m of mismatches.slice(0, 5)) console.log(`  mismatch: ${m}`)
    for (const r of responses.filter((x) => x.status >= 500 && !x.injectedRollback).slice(0, 5)) console.log(`  5xx: ${r.returnId} ${r.message}`)
    if (values.json) console.log(JSON.stringify(result))
  } finally {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {})
    if (!failed) fs.rmSync(logDir, { recursive: true, force: true })
  }
  return failed
}

main().then(
  (failed) => process.exit(failed ? 1 : 0),
  (err) => {
    console.error(`chaos failed: ${err && err.stack ? err.stack : err}`)
    process.exit(1)
  },
)
