#!/usr/bin/env node
// npm run chaos — do Klarna's money and Medusa's books agree on every Klarna order, whatever happens?
// Two Medusa app instances on one database and one Klarna emulator (which answers duplicates in
// flight with 409). In turn:
//   1. returns received with faults on at least 30 % of Klarna calls (delays past the timeout, drops
//      before and after the state change, 503, 429), Medusa rollbacks after Klarna refunded, the same
//      return received on both instances at once, failed receives retried the way an admin would;
//   2. crashes: kill -9 of an instance during the Klarna call and during Medusa's commit, PostgreSQL
//      restarts under load; the admin retries on the other instance and the time to a successful
//      receive is the recovery time;
//   3. cancel and re-return after unknown outcomes (Klarna refunded, or not);
//   4. concurrent fee give-backs across both instances;
//   5. replayed authorization tokens (a cart paid with another cart's token);
//   6. drifts injected behind the plugin's back (a rollback nobody retries, a refund made in Klarna's
//      portal, a refund written into Medusa only, a capture made at Klarna only), which the reconciler
//      (GET /admin/klarna/reconciliation) must find, and nothing else.
// Then it compares, per Klarna order, Klarna's captured and refunded totals with Medusa's books, and
// exits non-zero when an invariant fails.
//   --seed N      the schedule's seed (default 1)
//   --returns N   returns received with faults (default 200; --quick: 40)
//   --quick       a smaller run (npm test runs it)
//   --json        one JSON object as the last line
// @ts-check
"use strict";
process.env.MEDUSA_DISABLE_TELEMETRY = "true";
process.noDeprecation = true;

const fs = require("fs");
const os = require("os");
const path = require("path");
const { parseArgs } = require("util");
const { startPostgres } = require("./lib/postgres");
const { runMigrations } = require("./lib/migrations");
const { startChild } = require("./lib/child-process");
const { checkout, capturedOrderWithReturn, placeOrder, receiveReturn, requestReturn } = require("./lib/checkout");
const { client } = require("./lib/http");
const { pool, waitFor } = require("./lib/wait");

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    returns: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const SEED = Number(values.seed);
const QUICK = Boolean(values.quick);
const N = Number(values.returns ?? (QUICK ? 40 : 200));
if (!Number.isInteger(SEED) || !Number.isInteger(N) || N < 1) {
  console.error("chaos: --seed and --returns take integers");
  process.exit(2);
}
/** How many of each other event: crashes during the Klarna call / during Medusa's commit, PostgreSQL restarts, … */
const COUNTS = QUICK
  ? { crashInCall: 1, crashInCommit: 1, pgRestarts: 1, cancelMade: 1, cancelNotMade: 1, giveBackGroups: 3, tokenReplays: 2, drifts: 1 }
  : { crashInCall: 6, crashInCommit: 6, pgRestarts: 4, cancelMade: 5, cancelNotMade: 5, giveBackGroups: 12, tokenReplays: 6, drifts: 3 };

const ROOT = path.resolve(__dirname, "..");
const { createEmulator } = require("../dist/emulator");
const USERNAME = "chaos-merchant";
const PASSWORD = `chaos-secret-${SEED}-` + Math.random().toString(36).slice(2, 10);
const TIMEOUT_MS = 600;
const log = (/** @type {unknown[]} */ ...a) => console.error(...a);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * mulberry32: a small seeded PRNG, so a seed replays the same schedule.
 * @param {number} seed
 */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
/**
 * @template T
 * @param {Array<[T, number]>} weights
 * @returns {T}
 */
const pick = (weights) => {
  const total = weights.reduce((s, [, w]) => s + w, 0);
  let r = rand() * total;
  for (const [v, w] of weights) if ((r -= w) < 0) return v;
  return weights[weights.length - 1][0];
};

/**
 * @typedef {{ provider: string, orderId: string, klarnaOrderId: string | null, returnId: string, refundAmount: number, items: import("./lib/checkout").ReturnItem[] }} PreparedReturn
 * @typedef {{ url: string, token: string, name: string, child: import("child_process").ChildProcess, stop: () => Promise<void>, dead: boolean }} Instance
 */

/** Percentile of a list of numbers (nearest rank). */
function percentile(/** @type {number[]} */ xs, /** @type {number} */ p) {
  if (!xs.length) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const started = Date.now();
  /** @type {Array<() => Promise<unknown>>} */
  const stops = [];
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "klarna-chaos-"));
  let failed = false;
  try {
    log(`chaos: seed ${SEED}, ${N} returns${QUICK ? " (quick)" : ""}, logs in ${logDir}`);
    // Klarna answers a duplicate still in flight with 409 (unconfirmed behaviour; the emulator's other
    // setting, "wait", is what the integration tests use).
    const emulator = createEmulator({ username: USERNAME, password: PASSWORD, journal_limit: 1_000_000, in_flight_duplicate: "conflict" });
    const emulatorUrl = await emulator.listen(0);
    stops.push(() => emulator.close());
    const klarna = client(emulatorUrl, { headers: { authorization: "Basic " + Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64") } });
    const pg = await startPostgres();
    stops.push(() => pg.stop());
    const env = {
      DATABASE_URL: pg.url,
      KLARNA_BASE_URL: emulatorUrl,
      KLARNA_USERNAME: USERNAME,
      KLARNA_PASSWORD: PASSWORD,
      KLARNA_TIMEOUT_MS: String(TIMEOUT_MS),
      KLARNA_PLUGIN_OPTIONS: JSON.stringify({ retries: 2, retry_base_delay_ms: 50 }),
    };
    await runMigrations({ directory: path.join(ROOT, "store"), databaseUrl: pg.url, env });

    // The chaos run's own connections survive PostgreSQL restarts (a pool reconnects).
    const { Pool } = require("pg");
    const db = new Pool({ connectionString: pg.url, max: 4 });
    db.on("error", () => undefined);
    stops.push(() => db.end());
    // Medusa-side failure after Klarna refunded: while an order is listed, writing its refund row fails
    // and the whole Medusa transaction rolls back. And a slow commit: writing its refund row takes 3 s.
    await db.query(`CREATE TABLE chaos_rollback (order_id text PRIMARY KEY)`);
    await db.query(`CREATE TABLE chaos_slow (order_id text PRIMARY KEY)`);
    await db.query(`CREATE FUNCTION chaos_refund() RETURNS trigger AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM chaos_slow WHERE order_id = NEW.order_id) THEN PERFORM pg_sleep(3); END IF;
        IF EXISTS (SELECT 1 FROM chaos_rollback WHERE order_id = NEW.order_id) THEN
          RAISE EXCEPTION 'chaos: forced failure after Klarna refunded';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await db.query(`CREATE TRIGGER chaos_refund BEFORE INSERT ON refund FOR EACH ROW EXECUTE FUNCTION chaos_refund()`);

    // ---- two Medusa instances, each restartable ------------------------------------------------
    let instanceCrashes = 0;
    let seq = 0;
    /** @param {boolean} seedIt */
    const startInstance = async (seedIt) => {
      const name = `instance-${++seq}`;
      const logFile = path.join(logDir, `${name}.log`);
      const started = await startChild({
        name: `a Medusa instance (log in ${logFile})`,
        script: path.join(__dirname, "chaos-instance.js"),
        env: { ...process.env, ...env, CHAOS_SEED: seedIt ? "1" : "" },
        ready: /READY (\{.*\})\n/,
        output: fs.createWriteStream(logFile),
      });
      const info = JSON.parse(started.ready[1]);
      /** @type {Instance} */
      const inst = { url: info.url, token: "", name, child: started.child, stop: started.stop, dead: false };
      started.exited.then(() => {
        if (!inst.dead) instanceCrashes++; // not killed by us
        inst.dead = true;
      });
      stops.push(() => started.stop());
      return { inst, seed: info.seed };
    };
    const first = await startInstance(true);
    const seed = first.seed;
    first.inst.token = seed.token;
    const second = await startInstance(false);
    second.inst.token = seed.token;
    /** @type {Instance[]} */
    const instances = [first.inst, second.inst];
    const live = () => instances.filter((i) => !i.dead);
    const anyLive = () => {
      const l = live();
      return l[Math.floor(rand() * l.length)];
    };
    /** kill -9, then a new process in its place (in the background). */
    const killAndReplace = (/** @type {number} */ index) => {
      const victim = instances[index];
      victim.dead = true;
      victim.child.kill("SIGKILL");
      return startInstance(false).then(({ inst }) => {
        inst.token = seed.token;
        instances[index] = inst;
      });
    };

    // ---- orders ---------------------------------------------------------------------------
    log("chaos: preparing orders and returns…");
    const extra = COUNTS.crashInCall + COUNTS.crashInCommit + COUNTS.pgRestarts + COUNTS.cancelMade + COUNTS.cancelNotMade + COUNTS.drifts;
    // One at a time: Medusa 1.20 aborts concurrent cart completions on the same variants.
    /** @type {PreparedReturn[]} */
    const all = await pool(Array.from({ length: N + extra }), 1, () =>
      capturedOrderWithReturn({ url: instances[0].url, seed, provider: "klarna", emulatorUrl }),
    );
    const returns = all.slice(0, N);
    let rest = all.slice(N);
    const take = (/** @type {number} */ n) => {
      const out = rest.slice(0, n);
      rest = rest.slice(n);
      return out;
    };
    const crashInCall = take(COUNTS.crashInCall);
    const crashInCommit = take(COUNTS.crashInCommit);
    const pgRestarts = take(COUNTS.pgRestarts);
    const cancelMade = take(COUNTS.cancelMade);
    const cancelNotMade = take(COUNTS.cancelNotMade);
    const abandoned = take(COUNTS.drifts);
    emulator.state.journal = [];

    /** @type {Array<{ what: string, status: number, message?: string, expected5xx: boolean }>} */
    const responses = [];
    let secretsInResponses = 0;
    const record = (/** @type {string} */ what, /** @type {{ status: number, body?: any, data?: any }} */ res, expected5xx = false) => {
      const body = res.body ?? res.data;
      const text = typeof body === "string" ? body : JSON.stringify(body);
      if (text && text.includes(PASSWORD)) secretsInResponses++;
      responses.push({ what, status: res.status, message: body && body.message, expected5xx });
    };
    /**
     * @param {Instance} inst
     * @param {PreparedReturn} ret
     */
    const receive = async (inst, ret, expected5xx = false) => {
      try {
        const res = await receiveReturn(inst, ret);
        record(`receive ${ret.returnId}`, res, expected5xx);
        return res;
      } catch (err) {
        // The instance died under the request (we killed it): no answer.
        return { status: 0, body: { message: String(err) }, ms: 0 };
      }
    };
    const done = (/** @type {{ status: number, body: any }} */ res) =>
      res.status === 200 || (res.status === 400 && /already (been )?received|already refunded through Klarna/.test(res.body && res.body.message));
    const refundsPath = (/** @type {PreparedReturn} */ r) => `/ordermanagement/v1/orders/${r.klarnaOrderId}/refunds`;
    const orderPath = (/** @type {PreparedReturn} */ r) => `/ordermanagement/v1/orders/${r.klarnaOrderId}`;
    /** The admin retries until Medusa says it is received; resolves to when that happened. */
    const retryUntilReceived = async (
      /** @type {PreparedReturn} */ r,
      /** @type {number} */ pauseMs,
      /** @type {number} */ deadlineMs,
      expected5xx = false,
    ) => {
      const until = Date.now() + deadlineMs;
      for (;;) {
        const inst = anyLive();
        if (inst && done(await receive(inst, r, expected5xx))) return Date.now();
        if (Date.now() > until) throw new Error(`return ${r.returnId} was still not received ${deadlineMs / 1000} s later`);
        await sleep(pauseMs);
      }
    };

    // ---- 1. returns received with faults ----------------------------------------------------
    const schedule = returns.map((r) => ({
      ret: r,
      fault: pick(
        /** @type {Array<[Omit<import("../dist/emulator").FaultSpec, "path" | "times"> | null, number]>} */ ([
          [null, 25],
          [{ delay_ms: TIMEOUT_MS + 300 }, 15],
          [{ drop: "before" }, 15],
          [{ drop: "after" }, 20],
          [{ status: 503 }, 15],
          [{ status: 429, retry_after: 1 }, 10],
        ]),
      ),
      times: 1 + Math.floor(rand() * 3),
      rollback: rand() < 0.12,
      duplicate: rand() < 0.15,
      first: rand() < 0.5 ? 0 : 1,
    }));
    log("chaos: 1. receiving with faults…");
    await pool(schedule, 4, async (s) => {
      if (s.fault) emulator.state.addFault({ method: "POST", path: refundsPath(s.ret), times: s.times, ...s.fault });
      if (s.rollback) await db.query(`INSERT INTO chaos_rollback VALUES ($1)`, [s.ret.orderId]);
      const firstInst = instances[s.first];
      let results;
      if (s.duplicate) results = await Promise.all([receive(firstInst, s.ret, s.rollback), receive(instances[1 - s.first], s.ret, s.rollback)]);
      else results = [await receive(firstInst, s.ret, s.rollback)];
      if (s.rollback) await db.query(`DELETE FROM chaos_rollback WHERE order_id = $1`, [s.ret.orderId]);
      if (!results.some(done)) await retryUntilReceived(s.ret, 100 + Math.floor(rand() * 200), 60_000);
    });

    // ---- 2. crashes -------------------------------------------------------------------------
    /** @type {number[]} */
    const recoveries = [];
    log("chaos: 2. crashes: kill -9 during the Klarna call and during Medusa's commit, PostgreSQL restarts…");
    for (const r of crashInCall) {
      const victim = Math.floor(rand() * 2);
      // Klarna holds the refund call long enough for the instance to die in the middle of it.
      emulator.state.addFault({ method: "POST", path: refundsPath(r), times: 1, delay_ms: 2000 });
      const inFlight = receive(instances[victim], r);
      await sleep(150 + Math.floor(rand() * 250));
      const t0 = Date.now();
      const replaced = killAndReplace(victim);
      await inFlight;
      recoveries.push((await retryUntilReceived(r, 500, 90_000)) - t0);
      await replaced;
    }
    for (const r of crashInCommit) {
      const victim = Math.floor(rand() * 2);
      await db.query(`INSERT INTO chaos_slow VALUES ($1)`, [r.orderId]);
      const journalFrom = emulator.state.journal.length;
      const inFlight = receive(instances[victim], r);
      // Klarna refunded; Medusa is now writing its refund row (3 s): the instance dies before its commit.
      await waitFor(
        () => emulator.state.journal.slice(journalFrom).some((e) => e.method === "POST" && e.path === refundsPath(r) && e.response?.status === 201),
        { timeout: 15_000, interval: 20 },
      );
      await sleep(200);
      const t0 = Date.now();
      const replaced = killAndReplace(victim);
      await inFlight;
      await db.query(`DELETE FROM chaos_slow WHERE order_id = $1`, [r.orderId]);
      recoveries.push((await retryUntilReceived(r, 500, 90_000)) - t0);
      await replaced;
    }
    for (const r of pgRestarts) {
      emulator.state.addFault({ method: "POST", path: refundsPath(r), times: 1, delay_ms: 300 });
      const inFlight = receive(anyLive(), r, true);
      await sleep(150);
      const t0 = Date.now();
      await pg.restart({ mode: "immediate" });
      await inFlight;
      // Medusa's own pools may answer one request with a 500 while they reconnect: not the plugin's.
      recoveries.push((await retryUntilReceived(r, 500, 90_000, true)) - t0);
    }
    // An instance that died on its own (not by our hand) is a failure; give the rest a moment to settle.
    await sleep(500);

    // ---- 3. cancel and re-return after unknown outcomes ---------------------------------------
    log("chaos: 3. cancel and re-return after unknown outcomes…");
    let cancelsAllowedAfterKlarnaRefunded = 0;
    let reReturns = 0;
    await pool([...cancelMade.map((r) => ({ r, made: true })), ...cancelNotMade.map((r) => ({ r, made: false }))], 4, async ({ r, made }) => {
      // Every refund call loses its answer (after Klarna refunded, or before it saw the call), and
      // Klarna's order cannot be read: the outcome stays unknown.
      emulator.state.addFault({ method: "POST", path: refundsPath(r), times: 3, drop: made ? "after" : "before" });
      emulator.state.addFault({ method: "GET", path: orderPath(r), times: 3, status: 503 });
      await receive(anyLive(), r);
      const admin = () => client(anyLive().url, { token: seed.token });
      let cancel = await admin().send("POST", `/admin/returns/${r.returnId}/cancel`);
      record(`cancel ${r.returnId}`, cancel);
      if (made) {
        if (cancel.status === 200) cancelsAllowedAfterKlarnaRefunded++;
        else await retryUntilReceived(r, 300, 60_000); // the plugin said: receive it instead
        return;
      }
      // Klarna made nothing: once the attempt cannot still be on its way, the cancel goes through.
      const until = Date.now() + 60_000;
      while (cancel.status !== 200 && Date.now() < until) {
        await sleep(1000);
        cancel = await admin().send("POST", `/admin/returns/${r.returnId}/cancel`);
        record(`cancel ${r.returnId}`, cancel);
      }
      if (cancel.status !== 200) throw new Error(`return ${r.returnId} could not be cancelled: ${JSON.stringify(cancel.data).slice(0, 300)}`);
      // Medusa answers 409 when concurrent requests conflict on its side (serialisation); the admin retries.
      let again;
      for (let attempt = 1; !again; attempt++) {
        try {
          again = await requestReturn({ url: anyLive().url, token: seed.token }, r.orderId, r.items, {
            option_id: seed.returnShippingOption.id,
            price: 300,
          });
        } catch (err) {
          if (/** @type {{ status?: number }} */ (err).status !== 409 || attempt >= 5) throw err;
          await sleep(300 * attempt);
        }
      }
      reReturns++;
      await retryUntilReceived({ ...r, returnId: again.id }, 300, 60_000);
    });

    // ---- 4. concurrent fee give-backs --------------------------------------------------------
    log("chaos: 4. concurrent fee give-backs…");
    const giveBacks = returns.slice(0, COUNTS.giveBackGroups);
    let giveBackRequests = 0;
    let giveBacksAccepted = 0;
    let giveBackDoubles = 0;
    await Promise.all(
      giveBacks.map(async (r) => {
        const n = 2 + Math.floor(rand() * 2);
        const answers = await Promise.all(
          Array.from({ length: n }, () =>
            client(anyLive().url, { token: seed.token }).send("POST", `/admin/klarna/returns/${r.returnId}/waive-return-fee`),
          ),
        );
        giveBackRequests += n;
        answers.forEach((a) => record(`give back ${r.returnId}`, a));
        const ok = answers.filter((a) => a.status === 200).length;
        giveBacksAccepted += ok;
        if (ok > 1) giveBackDoubles++;
      }),
    );

    // ---- 5. replayed authorization tokens ------------------------------------------------------
    log("chaos: 5. replayed authorization tokens…");
    let replaysAccepted = 0;
    for (let i = 0; i < COUNTS.tokenReplays; i++) {
      const a = await placeOrder({ url: instances[0].url, seed, provider: "klarna", emulatorUrl });
      const token = a.checkout.auth.authorization_token;
      const b = await checkout({
        url: instances[1].url,
        seed,
        provider: "klarna",
        emulatorUrl,
        items: [{ variant_id: seed.variants[1].id, quantity: 3 }],
        authorize: { approved: false },
        beforeComplete: async () => undefined,
      });
      const store = client(instances[1].url, { headers: { "x-publishable-api-key": seed.publishableApiKey } });
      await store.post(`/store/carts/${b.cartId}/payment-sessions/klarna`, { data: { authorization_token: token } });
      const completed = await store.send("POST", `/store/carts/${b.cartId}/complete`, {});
      record(`replayed token on cart ${b.cartId}`, completed);
      if (completed.status < 300 && completed.data && completed.data.type === "order") replaysAccepted++;
    }

    // ---- 6. drifts behind the plugin's back, for the reconciler ---------------------------------
    log("chaos: 6. drifts for the reconciler…");
    /** @type {Map<string, string>} */
    const injected = new Map(); // Klarna order id → the drift
    for (const r of abandoned) {
      // A rollback after Klarna refunded that nobody retries.
      await db.query(`INSERT INTO chaos_rollback VALUES ($1)`, [r.orderId]);
      await receive(anyLive(), r, true);
      await db.query(`DELETE FROM chaos_rollback WHERE order_id = $1`, [r.orderId]);
      injected.set(/** @type {string} */ (r.klarnaOrderId), "rollback nobody retried");
    }
    const driftOn = returns.slice(COUNTS.giveBackGroups, COUNTS.giveBackGroups + 2 * COUNTS.drifts);
    for (const [i, r] of driftOn.entries()) {
      if (i % 2 === 0) {
        // A refund made in Klarna's merchant portal.
        const res = await klarna.send(
          "POST",
          refundsPath(r),
          { refunded_amount: 100, reference: `portal-${i}`, description: "Goodwill (portal)" },
          { "Klarna-Idempotency-Key": require("crypto").randomUUID() },
        );
        if (res.status !== 201) throw new Error(`portal refund refused: ${JSON.stringify(res.data)}`);
        injected.set(/** @type {string} */ (r.klarnaOrderId), "refund made at Klarna only");
      } else {
        // A refund written into Medusa's books only.
        await db.query(`INSERT INTO refund (id, order_id, amount, reason, note) VALUES ($1, $2, 100, 'other', 'written behind the plugin''s back')`, [
          `ref_chaos_${i}_${SEED}`,
          r.orderId,
        ]);
        injected.set(/** @type {string} */ (r.klarnaOrderId), "refund in Medusa only");
      }
    }
    for (let i = 0; i < COUNTS.drifts; i++) {
      // Captured at Klarna (merchant portal), never in Medusa.
      const { order } = await placeOrder({ url: instances[0].url, seed, provider: "klarna", emulatorUrl });
      const klarnaOrderId = order.payments[0].data.order_id;
      const res = await klarna.send(
        "POST",
        `/ordermanagement/v1/orders/${klarnaOrderId}/captures`,
        { captured_amount: order.total },
        { "Klarna-Idempotency-Key": require("crypto").randomUUID() },
      );
      if (res.status !== 201) throw new Error(`portal capture refused: ${JSON.stringify(res.data)}`);
      injected.set(klarnaOrderId, "capture made at Klarna only");
    }
    const reconciliation = await client(anyLive().url, { token: seed.token }).get(`/admin/klarna/reconciliation?all=true`);
    /** @type {Set<string>} */
    const reported = new Set(reconciliation.data.orders.map((/** @type {any} */ o) => o.klarna_order_id));
    const found = [...injected.keys()].filter((id) => reported.has(id)).length;
    const falsePositives = [...reported].filter((id) => !injected.has(id));

    // ---- the invariants, per Klarna order -----------------------------------------------------
    await sleep(300);
    const journal = emulator.state.journal;
    const klarnaCalls = journal.length;
    const faulted = journal.filter((e) => e.fault_id).length;
    /** @type {Map<string, import("../dist/emulator").JournalEntry[]>} */
    const byReference = new Map();
    for (const e of journal) {
      const body = /** @type {{ reference?: string } | undefined} */ (e.body);
      if (e.method !== "POST" || !e.path.endsWith("/refunds") || !body || !body.reference) continue;
      const list = byReference.get(body.reference) ?? [];
      list.push(e);
      byReference.set(body.reference, list);
    }
    let retries = 0;
    let reused = 0;
    for (const attempts of byReference.values()) {
      for (let i = 1; i < attempts.length; i++) {
        retries++;
        if (attempts[i].idempotency_key === attempts[0].idempotency_key) reused++;
      }
    }
    /** @type {{ rows: Array<{ klarna_order_id: string, captured: number, refunded: number }> }} */
    const { rows: books } = await db.query(
      `WITH p AS (SELECT id, order_id, amount, captured_at, data->>'order_id' AS k FROM payment
                   WHERE provider_id = 'klarna' AND data->>'order_id' IS NOT NULL)
       SELECT k AS klarna_order_id,
              (SELECT COALESCE(sum(amount), 0) FROM p p2 WHERE p2.k = o.k AND p2.captured_at IS NOT NULL)::int AS captured,
              -- Medusa's order refunds carry no payment id; a payment's refund does.
              (SELECT COALESCE(sum(r.amount), 0) FROM refund r
                WHERE r.payment_id IN (SELECT id FROM p p3 WHERE p3.k = o.k)
                   OR (r.payment_id IS NULL AND r.order_id IN (SELECT order_id FROM p p3 WHERE p3.k = o.k)))::int AS refunded
         FROM (SELECT DISTINCT k FROM p) o`,
    );
    const medusaBooks = new Map(books.map((b) => [b.klarna_order_id, b]));
    let diverging = 0;
    let doubleRefunds = 0;
    /** @type {string[]} */
    const mismatches = [];
    for (const order of emulator.state.orders.values()) {
      const refs = new Map();
      for (const r of order.refunds) if (r.reference) refs.set(r.reference, (refs.get(r.reference) ?? 0) + 1);
      for (const n of refs.values()) if (n > 1) doubleRefunds++;
      if (injected.has(order.order_id)) continue;
      const m = medusaBooks.get(order.order_id) ?? { captured: 0, refunded: 0 };
      if (order.captured_amount !== m.captured || order.refunded_amount !== m.refunded) {
        diverging++;
        mismatches.push(
          `${order.order_id}: Klarna captured ${order.captured_amount} refunded ${order.refunded_amount}, Medusa captured ${m.captured} refunded ${m.refunded}`,
        );
      }
    }
    const everyReturn = [...returns, ...crashInCall, ...crashInCommit, ...pgRestarts, ...cancelMade];
    /** @type {{ rows: Array<{ id: string, status: string }> }} */
    const returnRows = await db.query(`SELECT id, status FROM "return" WHERE id = ANY($1)`, [everyReturn.map((r) => r.returnId)]);
    const statuses = new Map(returnRows.rows.map((r) => [r.id, r.status]));
    const unreceived = everyReturn.filter((r) => statuses.get(r.returnId) !== "received").length;
    let secretsLeaked = secretsInResponses;
    for (const f of fs.readdirSync(logDir)) secretsLeaked += fs.readFileSync(path.join(logDir, f), "utf8").split(PASSWORD).length - 1;
    for (const table of [
      "klarna_refund",
      "klarna_order_state",
      "payment",
      "payment_session",
      "return",
      "refund",
      "staged_job",
      "idempotency_key",
      "cart",
      '"order"',
    ]) {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${table} t WHERE t::text LIKE '%' || $1 || '%'`, [PASSWORD]);
      secretsLeaked += rows[0].n;
    }
    const errors5xx = responses.filter((r) => r.status >= 500 && !r.expected5xx);
    const round = (/** @type {number} */ x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
    const result = {
      seed: SEED,
      returns: N,
      klarna_orders: emulator.state.orders.size,
      klarna_calls: klarnaCalls,
      faulted_calls_ratio: round(faulted / Math.max(1, klarnaCalls), 3),
      injected_rollbacks: schedule.filter((s) => s.rollback).length,
      duplicate_receives: schedule.filter((s) => s.duplicate).length,
      admin_requests: responses.length,
      kills_in_klarna_call: crashInCall.length,
      kills_in_medusa_commit: crashInCommit.length,
      postgres_restarts: pgRestarts.length,
      recovery_s_p50: round(percentile(recoveries, 50) / 1000),
      recovery_s_p95: round(percentile(recoveries, 95) / 1000),
      recovery_s_max: round(Math.max(0, ...recoveries) / 1000),
      cancels_after_unknown: cancelMade.length + cancelNotMade.length,
      cancels_allowed_after_klarna_refunded: cancelsAllowedAfterKlarnaRefunded,
      re_returns: reReturns,
      give_back_requests: giveBackRequests,
      give_backs_accepted: giveBacksAccepted,
      give_back_doubles: giveBackDoubles,
      token_replays: COUNTS.tokenReplays,
      token_replays_accepted: replaysAccepted,
      drifts_injected: injected.size,
      drifts_found: found,
      reconciler_false_positives: falsePositives.length,
      diverging_orders: diverging,
      double_refunds: doubleRefunds,
      unreceived_returns: unreceived,
      key_reuse_ratio: retries ? round(reused / retries, 3) : 1,
      retries,
      errors_5xx: errors5xx.length,
      instance_crashes: instanceCrashes,
      secrets_leaked: secretsLeaked,
      seconds: round((Date.now() - started) / 1000),
    };
    /** @type {Array<[keyof typeof result, boolean]>} */
    const checks = [
      ["diverging_orders", result.diverging_orders === 0],
      ["double_refunds", result.double_refunds === 0],
      ["unreceived_returns", result.unreceived_returns === 0],
      ["key_reuse_ratio", result.key_reuse_ratio === 1],
      ["recovery_s_p95", result.recovery_s_p95 <= 20],
      ["cancels_allowed_after_klarna_refunded", result.cancels_allowed_after_klarna_refunded === 0],
      ["give_back_doubles", result.give_back_doubles === 0],
      ["give_backs_accepted", result.give_backs_accepted === giveBacks.length],
      ["token_replays_accepted", result.token_replays_accepted === 0],
      ["drifts_found", result.drifts_found === result.drifts_injected],
      ["reconciler_false_positives", result.reconciler_false_positives === 0],
      ["errors_5xx", result.errors_5xx === 0],
      ["instance_crashes", result.instance_crashes === 0],
      ["secrets_leaked", result.secrets_leaked === 0],
      ["faulted_calls_ratio", result.faulted_calls_ratio >= 0.3],
    ];
    failed = checks.some(([, ok]) => !ok);
    console.log(`\nmedusa-plugin-klarna chaos run: seed ${SEED}, ${N} returns, 2 Medusa instances, ${result.seconds} s`);
    console.log(
      `  ${klarnaCalls} Klarna calls, ${faulted} hit by a fault (${(result.faulted_calls_ratio * 100).toFixed(1)} %); ${result.injected_rollbacks} Medusa rollbacks after Klarna refunded; ` +
        `${result.duplicate_receives} returns received on both instances at once; ${result.kills_in_klarna_call} + ${result.kills_in_medusa_commit} kill -9 (in the Klarna call / in Medusa's commit), ` +
        `${result.postgres_restarts} PostgreSQL restarts; ${result.cancels_after_unknown} cancels after unknown outcomes (${result.re_returns} re-returned); ` +
        `${result.give_back_requests} concurrent give-back requests; ${result.token_replays} replayed tokens; ${result.drifts_injected} drifts injected; ${result.admin_requests} admin requests`,
    );
    console.log(`  recovery after a crash: p50 ${result.recovery_s_p50} s, p95 ${result.recovery_s_p95} s, max ${result.recovery_s_max} s`);
    for (const [name, ok] of checks) console.log(`  ${ok ? "ok  " : "FAIL"} ${String(name).padEnd(40)} ${JSON.stringify(result[name])}`);
    for (const m of mismatches.slice(0, 5)) console.log(`  mismatch: ${m}`);
    for (const id of [...injected.keys()].filter((id) => !reported.has(id))) console.log(`  drift not found: ${id} (${injected.get(id)})`);
    for (const id of falsePositives.slice(0, 5)) console.log(`  reported without a drift: ${id}`);
    for (const r of errors5xx.slice(0, 5)) console.log(`  5xx: ${r.what} ${r.message}`);
    if (values.json) console.log(JSON.stringify(result));
  } finally {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
    if (!failed) fs.rmSync(logDir, { recursive: true, force: true });
  }
  return failed;
}

main().then(
  (failed) => process.exit(failed ? 1 : 0),
  (err) => {
    console.error(`chaos failed: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
