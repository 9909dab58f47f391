#!/usr/bin/env node
// npm run bench — what the plugin costs on the admin's hot path, measured on a real store.
//   --quick   a smaller run (same fields) in under a minute
//   --json    one JSON object as the last line
// Prints numbers; asserts nothing.
// @ts-check
"use strict";
process.env.MEDUSA_DISABLE_TELEMETRY = "true";
process.noDeprecation = true;

const path = require("path");
const os = require("os");
const { startPostgres } = require("./lib/postgres");
const { runMigrations } = require("./lib/migrations");
const { bootMedusa, hideAccessLog } = require("./lib/medusa-boot");
const { seedStore } = require("./lib/seed");
const { capturedOrderWithReturn, receiveReturn } = require("./lib/checkout");
const { pool } = require("./lib/wait");
const { startEmulatorProcess } = require("./lib/emulator-process");
const { flags } = require("./lib/flags");

const args = flags("bench", ["--quick", "--json"]);
const QUICK = args.has("--quick");
const JSON_OUT = args.has("--json");
if (typeof global.gc !== "function") {
  console.error("bench: run with node --expose-gc (npm run bench does)");
  process.exit(2);
}

const ROOT = path.resolve(__dirname, "..");
const { planRefund } = require("../dist/klarna/refund-plan");
const { runWithRequestContext, finishScope } = require("../dist/medusa/request-context");

const N_RECEIVES = QUICK ? 25 : 200;
const N_HEAP = QUICK ? 500 : 5000;
const N_CONCURRENT = 20;
const USERNAME = "bench-merchant";
const PASSWORD = "bench-api-key-" + Math.random().toString(36).slice(2);

hideAccessLog();

/**
 * @param {number[]} xs
 * @param {number} q
 */
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
/** @param {number[]} xs */
const median = (xs) => quantile(xs, 0.5);
const round = (/** @type {number} */ x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
/** Progress goes to stderr, results to stdout. */
const log = (/** @type {unknown[]} */ ...a) => console.error(...a);
/** `node --expose-gc` (checked above). */
const gc = /** @type {() => void} */ (global.gc);

/** @param {number} lines */
function planInput(lines) {
  const items = Array.from({ length: lines }, (_, i) => ({
    name: `Item ${i}`,
    reference: `SKU-${i}`,
    quantity: 1 + (i % 3),
    unitPrice: 1000 + ((i * 37) % 5000),
    taxRate: i % 4 ? 1900 : 700,
    discount: i % 5 ? 0 : 100,
  }));
  const value = items.reduce((s, i) => s + i.quantity * i.unitPrice - i.discount, 0);
  return {
    refundAmount: value - 357,
    currency: "EUR",
    purchaseCountry: "DE",
    captureCount: 1,
    items,
    returnShipping: { name: "Return label", amount: 357, taxRate: 1900 },
  };
}

function benchPlan() {
  /** @type {Record<number, number>} */
  const out = {};
  for (const lines of [1, 10, 100, 1000]) {
    const input = planInput(lines);
    const runs = lines === 1000 ? 200 : 2000;
    for (let i = 0; i < 50; i++) planRefund(input); // warm up
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      planRefund(input);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    out[lines] = round(median(times), 4);
  }
  return out;
}

async function main() {
  const started = Date.now();
  /** @type {Array<() => Promise<unknown>>} */
  const stops = [];
  try {
    log(
      `bench: ${QUICK ? "quick" : "full"} run — ${N_RECEIVES} receives per provider, ${N_HEAP} refunds for the heap, ${N_CONCURRENT} concurrent receives`,
    );
    const emulator = await startEmulatorProcess({ username: USERNAME, password: PASSWORD, settings: { journal_limit: 1000000 } });
    stops.push(() => emulator.stop());
    const pg = await startPostgres();
    stops.push(() => pg.stop());
    const directory = path.join(ROOT, "store");
    const env = { KLARNA_BASE_URL: emulator.url, KLARNA_USERNAME: USERNAME, KLARNA_PASSWORD: PASSWORD };
    Object.assign(process.env, env);
    await runMigrations({ directory, databaseUrl: pg.url, env });
    const medusa = await bootMedusa({ directory, databaseUrl: pg.url, silent: true });
    stops.push(() => medusa.close());
    const seed = await seedStore({ container: medusa.container, url: medusa.url, paymentProviders: ["klarna", "manual"] });
    const ctx = { url: medusa.url, seed, emulatorUrl: emulator.url };

    // Orders with requested returns, half paid with Klarna, half with Medusa's manual provider.
    log("bench: preparing orders and returns…");
    const kinds = [];
    for (let i = 0; i < N_RECEIVES; i++) kinds.push("klarna", "manual");
    for (let i = 0; i < N_CONCURRENT; i++) kinds.push("klarna-concurrent");
    // One at a time: Medusa 1.20 aborts concurrent cart completions on the same variants.
    const prepared = await pool(kinds, 1, (kind) =>
      capturedOrderWithReturn({ ...ctx, provider: kind === "manual" ? "manual" : "klarna" }).then((r) => ({ ...r, kind })),
    );
    const klarnaReturns = prepared.filter((r) => r.kind === "klarna");
    const manualReturns = prepared.filter((r) => r.kind === "manual");
    const concurrentReturns = prepared.filter((r) => r.kind === "klarna-concurrent");

    // 1. Receive latency, interleaved so both providers see the same store and the same load.
    log("bench: receiving returns…");
    await emulator.control("DELETE", "/journal");
    const admin = { url: medusa.url, token: seed.token };
    const msKlarna = [];
    const msManual = [];
    const failures = [];
    for (let i = 0; i < N_RECEIVES; i++) {
      const a = await receiveReturn(admin, klarnaReturns[i]);
      const b = await receiveReturn(admin, manualReturns[i]);
      if (a.status !== 200) failures.push(`klarna ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
      if (b.status !== 200) failures.push(`manual ${b.status} ${JSON.stringify(b.body).slice(0, 200)}`);
      msKlarna.push(a.ms);
      msManual.push(b.ms);
    }
    const { entries } = await emulator.control("GET", "/journal");
    const klarnaCallsPerRefund = entries.length / N_RECEIVES;

    // 2. Concurrent receives, watching PostgreSQL for sessions waiting on a lock.
    log("bench: concurrent receives…");
    const manager = medusa.container.resolve("manager");
    let lockSamples = 0;
    let maxLockWaiters = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = await manager.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`);
        if (row.n > 0) lockSamples++;
        maxLockWaiters = Math.max(maxLockWaiters, row.n);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const t0 = process.hrtime.bigint();
    const burst = await Promise.all(concurrentReturns.map((r) => receiveReturn(admin, r)));
    const burstS = Number(process.hrtime.bigint() - t0) / 1e9;
    sampling = false;
    await sampler;
    const burstErrors = burst.filter((r) => r.status !== 200).map((r) => `${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);

    // 3. Heap across many refunds through the plugin's whole refund path in this process (request
    //    scope, intent, ledger claim and writes, Klarna call over HTTP, release), each a refund of its
    //    own (an exchange's price difference: amount only). The emulator runs in its own process.
    log(`bench: ${N_HEAP} refunds for the heap…`);
    const processor = medusa.container.resolve("pp_klarna");
    const heapOrder = klarnaReturns[0];
    const [payment] = await manager.query(`SELECT data FROM payment WHERE order_id = $1`, [heapOrder.orderId]);
    let heapErrors = 0;
    const refundOnce = async (/** @type {string | number} */ i) => {
      const { scope, result } = runWithRequestContext({ kind: "swap", order_id: heapOrder.orderId, swap_id: `bench_${i}` }, () =>
        processor.refundPayment(payment.data, 1),
      );
      let committed = false;
      try {
        const out = await result;
        if (out.error) heapErrors++;
        else committed = true;
      } finally {
        await finishScope(scope, { committed });
      }
    };
    for (let i = 0; i < 200; i++) await refundOnce(`warm_${i}`);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const tHeap = Date.now();
    for (let i = 0; i < N_HEAP; i++) await refundOnce(i);
    const refundsPerS = N_HEAP / ((Date.now() - tHeap) / 1000);
    gc();
    const heapAfter = process.memoryUsage().heapUsed;

    // 4. The planner alone.
    const planMs = benchPlan();

    const result = {
      quick: QUICK,
      machine: `${os.cpus().length} × ${os.cpus()[0].model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
      receives_per_provider: N_RECEIVES,
      klarna_calls_per_refund: round(klarnaCallsPerRefund, 2),
      receive_p50_ms_klarna: round(median(msKlarna), 1),
      receive_p50_ms_system: round(median(msManual), 1),
      receive_ratio_p50: round(median(msKlarna) / median(msManual), 3),
      receive_p95_ms_klarna: round(quantile(msKlarna, 0.95), 1),
      receive_p95_ms_system: round(quantile(msManual, 0.95), 1),
      receive_ratio_p95: round(quantile(msKlarna, 0.95) / quantile(msManual, 0.95), 3),
      receive_failures: failures.length,
      plan_ms: planMs,
      heap_refunds: N_HEAP,
      heap_growth_mb: round((heapAfter - heapBefore) / 2 ** 20, 2),
      heap_refund_errors: heapErrors,
      refunds_per_s_sequential: round(refundsPerS, 1),
      concurrent_receives: N_CONCURRENT,
      concurrent_receives_per_s: round(N_CONCURRENT / burstS, 1),
      concurrent_errors: burstErrors.length,
      concurrent_lock_wait_samples: lockSamples,
      concurrent_max_lock_waiters: maxLockWaiters,
      seconds: round((Date.now() - started) / 1000, 1),
    };
    for (const f of [...failures, ...burstErrors].slice(0, 5)) log(`bench: failure: ${f}`);
    /** @type {Array<[string, string | number, string]>} */
    const rows = [
      ["Klarna HTTP calls per return refund", result.klarna_calls_per_refund, "target 1.00"],
      [
        "receive p50, Klarna / manual provider (ms)",
        `${result.receive_p50_ms_klarna} / ${result.receive_p50_ms_system}`,
        `ratio ${result.receive_ratio_p50} (target ≤ 1.10)`,
      ],
      [
        "receive p95, Klarna / manual provider (ms)",
        `${result.receive_p95_ms_klarna} / ${result.receive_p95_ms_system}`,
        `ratio ${result.receive_ratio_p95}`,
      ],
      [
        "planRefund, 1 / 10 / 100 / 1000 lines (ms, median)",
        `${planMs[1]} / ${planMs[10]} / ${planMs[100]} / ${planMs[1000]}`,
        "target 1000 lines < 5 ms",
      ],
      [`heap growth over ${N_HEAP} refunds (MB)`, result.heap_growth_mb, `target < 10 MB; ${result.refunds_per_s_sequential} refunds/s`],
      [
        `${N_CONCURRENT} receives at once (receives/s)`,
        result.concurrent_receives_per_s,
        `${result.concurrent_errors} errors, ${result.concurrent_lock_wait_samples} samples with lock waits (max ${result.concurrent_max_lock_waiters})`,
      ],
    ];
    console.log(`\nmedusa-plugin-klarna benchmark (${QUICK ? "quick" : "full"}), ${result.machine}`);
    for (const [what, value, note] of rows) console.log(`  ${what.padEnd(52)} ${String(value).padEnd(22)} ${note}`);
    console.log(`  (${result.receive_failures} failed receives; ${result.seconds} s in all)`);
    if (JSON_OUT) console.log(JSON.stringify(result));
  } finally {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench failed: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
