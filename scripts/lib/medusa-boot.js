// @ts-check
// Boots a Medusa 1.20 store in this process, with the few patches a harness needs. Everything that
// knows Medusa's internals (module paths under dist/, the enqueuer's sleep, the logger, the knex
// pools, telemetry) is here: a Medusa upgrade touches this file only.
//   const medusa = await bootMedusa({ directory, databaseUrl })   -> { container, url, close() }
// `directory` is the folder holding medusa-config.js (its config must read DATABASE_URL from the
// environment, see store/medusa-config.js).
"use strict";

const path = require("path");

// Must be set before anything requires medusa-telemetry (any @medusajs/medusa module does): stops
// it from queueing events. bootMedusa also turns its timer off.
process.env.MEDUSA_DISABLE_TELEMETRY = process.env.MEDUSA_DISABLE_TELEMETRY || "true";

/** How often staged events reach the subscribers (Medusa polls every 3000 ms). */
const EVENT_POLL_MS = 100;

/**
 * @typedef {object} BootedMedusa
 * @property {any} container   Medusa's awilix container
 * @property {string} url      http://127.0.0.1:<port>
 * @property {() => Promise<void>} close   stops the HTTP server, the event loop of staged jobs, and Medusa
 */

/**
 * @param {object} o
 * @param {string} o.directory
 * @param {string} [o.databaseUrl]   sets DATABASE_URL for medusa-config.js
 * @param {number} [o.port]          0: any free port
 * @param {boolean} [o.silent]       drop Medusa's warnings too (info is always dropped)
 * @returns {Promise<BootedMedusa>}
 */
async function bootMedusa({ directory, databaseUrl, port = 0, silent = false }) {
  if (databaseUrl) process.env.DATABASE_URL = databaseUrl;
  // jest sets NODE_ENV=test: Medusa then loads mocked services/strategies (unless isTest: false), NO
  // core subscribers (subscribers/__mocks__ is not shipped), a fake dataSource at require time, and
  // skips morgan. Keep it but always pass isTest: false; set NODE_ENV=development before requiring
  // Medusa if you want core subscribers (order.placed -> notifications etc.).
  /** @param {string} p */
  const resolveFrom = (p) => require.resolve(p, { paths: [directory] });
  const express = require(resolveFrom("express"));
  // Stop the telemetry timer / exit flush (writes ~/.config/medusa config).
  try {
    require(resolveFrom("medusa-telemetry")).setTelemetryEnabled(false);
  } catch (_) {}
  const loaders = require(resolveFrom("@medusajs/medusa/dist/loaders")).default;
  const fastEvents = patchEnqueuerSleep(resolveFrom, EVENT_POLL_MS);
  const app = express();
  silenceMedusaLogger(resolveFrom, { dropWarnings: silent });
  // Record the knex pools Medusa creates (loaders/pg-connection.js), so a failed boot can close
  // them: they are only reachable through its private container.
  const pgConnMod = require(
    require.resolve("@medusajs/utils/dist/modules-sdk/create-pg-connection", {
      paths: [path.dirname(resolveFrom("@medusajs/medusa/package.json"))],
    }),
  );
  const origCreatePg = pgConnMod.createPgConnection;
  /** @type {any[]} */
  const knexPools = [];
  pgConnMod.createPgConnection = (/** @type {any[]} */ ...args) => {
    const k = origCreatePg(...args);
    knexPools.push(k);
    return k;
  };
  let loaded;
  try {
    loaded = await loaders({ directory, expressApp: app, isTest: false });
  } catch (err) {
    // A failed boot leaves the enqueuer loop, the typeorm DataSource and the knex pool behind (the
    // process would linger ~30 s until they idle out).
    fastEvents.freeze();
    const { dataSource } = require(resolveFrom("@medusajs/medusa/dist/loaders/database"));
    if (dataSource && dataSource.isInitialized) await dataSource.destroy().catch(() => {});
    await Promise.all(knexPools.map((k) => k.destroy().catch(() => {})));
    throw err;
  } finally {
    pgConnMod.createPgConnection = origCreatePg;
  }
  const { container, shutdown, dbConnection } = loaded;
  // Core EventBusService stages events in the staged_job table and an "enqueuer" loop
  // (services/event-bus.js enqueuer_, sleep(3000)) forwards them to the event-bus module, i.e.
  // subscribers run up to ~3 s after the commit (EVENT_POLL_MS after it with patchEnqueuerSleep).
  // With NODE_ENV=test the constructor does not start that loop, so plugin subscribers would never
  // fire under jest: start it here.
  const eventBus = container.resolve("eventBusService");
  if (!eventBus.shouldEnqueuerRun) eventBus.startEnqueuer();
  /** @type {import("http").Server} */
  const server = await new Promise((resolve, reject) => {
    const s = app.listen(port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
  const address = server.address();
  const url = `http://127.0.0.1:${address && typeof address === "object" ? address.port : port}`;
  let closed = false;
  async function close() {
    if (closed) return;
    closed = true;
    await new Promise((resolve) => {
      server.close(() => resolve(undefined));
      server.closeAllConnections?.();
    });
    // Nothing in Medusa stops the enqueuer: its sleep loop would keep the process alive and then
    // query a destroyed DataSource. Stop it and cut its current sleep short (it does a last
    // forward of staged events first).
    const stopping = eventBus.stopEnqueuer();
    fastEvents.wakeAll();
    await stopping;
    // medusa's shutdown: modules (event bus, cache) onApplicationShutdown, container.dispose,
    // typeorm dataSource.destroy, knex pg connection destroy, fake-redis disconnect, express
    // session redis disconnect.
    await shutdown();
    if (dbConnection && dbConnection.isInitialized) await dbConnection.destroy();
  }
  return { container, url, close };
}

/**
 * services/event-bus.js is the only user of dist/utils/sleep (exports.sleep is looked up at call
 * time): make its 3000 ms poll `pollMs` and wakeable.
 * @param {(p: string) => string} resolveFrom
 * @param {number} pollMs
 */
function patchEnqueuerSleep(resolveFrom, pollMs) {
  const mod = require(resolveFrom("@medusajs/medusa/dist/utils/sleep"));
  /** @type {Set<{ resolve: () => void, timer?: NodeJS.Timeout }>} */
  const pending = new Set();
  let frozen = false;
  mod.sleep = (/** @type {number} */ ms) =>
    new Promise((/** @type {(v?: void) => void} */ resolve) => {
      if (frozen) return; // never resolves, holds no handle: the loop just ends

      /** @type {{ resolve: () => void, timer?: NodeJS.Timeout }} */
      const entry = { resolve };
      entry.timer = setTimeout(
        () => {
          pending.delete(entry);
          resolve();
        },
        Math.min(ms, pollMs || ms),
      );
      pending.add(entry);
    });
  return {
    wakeAll() {
      for (const e of pending) {
        clearTimeout(e.timer);
        e.resolve();
      }
      pending.clear();
    },
    freeze() {
      frozen = true;
      for (const e of pending) clearTimeout(e.timer);
      pending.clear();
    },
  };
}

/**
 * Medusa's logger (winston + ora spinners) writes to stdout: drop its info and progress lines (its
 * loaders call each of these), keep errors, and warnings unless `dropWarnings`.
 * @param {(p: string) => string} resolveFrom
 * @param {{ dropWarnings?: boolean }} [options]
 */
function silenceMedusaLogger(resolveFrom, { dropWarnings = false } = {}) {
  try {
    const logger = require(resolveFrom("@medusajs/medusa/dist/loaders/logger")).default;
    if (dropWarnings) logger.warn = () => undefined;
    logger.info = () => undefined;
    logger.log = () => undefined;
    logger.activity = () => undefined;
    logger.progress = () => undefined;
    logger.success = () => ({});
  } catch (_) {}
}

/**
 * Drops the lines of Medusa's HTTP access log (morgan, when NODE_ENV is not test) from our stdout:
 * noise in the demo's story and the benchmark's figures.
 */
function hideAccessLog() {
  /** @type {(chunk: any, ...rest: any[]) => boolean} */
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = /** @type {any} */ (
    (/** @type {any} */ chunk, /** @type {any[]} */ ...rest) => (/^127\.0\.0\.1 - - \[/.test(String(chunk)) ? true : write(chunk, ...rest))
  );
}

module.exports = { bootMedusa, hideAccessLog };
