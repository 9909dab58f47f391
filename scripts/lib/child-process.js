// @ts-check
// Node child processes of the harness (PostgreSQL's keeper, the emulator, chaos instances, the
// migration runner), both halves:
//   startChild(...)    the parent starts one and waits for its ready line
//   runChild(...)      the parent runs one to its end
//   endWithParent(fn)  the child ends itself when its parent goes, however the parent ends
// No child outlives us: the ones still running when we exit (process.exit included, e.g. jest's
// forceExit) get SIGTERM, and a startChild child also keeps its stdin pipe open and ends when it
// closes (endWithParent: the kernel closes it when we die, even by SIGKILL). runChild's children are
// short runs to their end (a migration, the dashboard's build) with no stdin.
"use strict";

const { spawn } = require("child_process");

/** @type {Set<import("child_process").ChildProcess>} */
const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGTERM");
});

/** Keeps the last `max` characters written to it: a dead child's last words, for the error message. */
function tail(max = 4000) {
  let text = "";
  return {
    /** @param {string | Buffer} chunk */
    add(chunk) {
      text = (text + chunk).slice(-max);
    },
    get text() {
      return text;
    },
  };
}

/**
 * @typedef {object} StartedChild
 * @property {import("child_process").ChildProcess} child
 * @property {RegExpMatchArray} ready      the match of `ready` in the child's stdout
 * @property {(listener: (line: string) => void) => () => void} onLine  every later stdout line; returns "unsubscribe"
 * @property {Promise<number | null>} exited  resolves with the exit code (null after a signal)
 * @property {() => Promise<void>} stop    closes its stdin, sends SIGTERM (SIGKILL after 20 s), waits for the exit
 */

/**
 * Starts `node script ...args` and resolves once its stdout matches `ready`. Rejects at once when the
 * child cannot start, exits first, or stays silent for `timeoutMs`, with what it printed.
 * @param {object} o
 * @param {string} o.name                  what the child is, for messages ("PostgreSQL", "emulator")
 * @param {string} o.script
 * @param {string[]} [o.args]
 * @param {NodeJS.ProcessEnv} [o.env]      the whole environment (default: ours)
 * @param {string} [o.cwd]
 * @param {RegExp} o.ready                 matched against all stdout so far (make it end at a line end or a space:
 *                                          output arrives in chunks)
 * @param {number} [o.timeoutMs]
 * @param {NodeJS.WritableStream} [o.output]  receives all of the child's stdout and stderr
 * @param {boolean} [o.echoStderr]         once it is ready, the child's stderr goes to ours (before, it only goes into the error)
 * @param {boolean} [o.unref]              once ready, the child does not keep our event loop alive (it still ends with us)
 * @returns {Promise<StartedChild>}
 */
function startChild({ name, script, args = [], env = process.env, cwd, ready, timeoutMs = 120_000, output, echoStderr = false, unref = false }) {
  const child = spawn(process.execPath, [script, ...args], { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
  running.add(child);
  const last = tail();
  /** @type {Set<(line: string) => void>} */
  const lineListeners = new Set();
  let stdout = "";
  let isReady = false;
  const exited = new Promise((resolve) => {
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    });
    child.once("error", () => {
      running.delete(child);
      resolve(null);
    });
  });
  // An EPIPE on its stdin when it has died: its exit is what we report.
  child.stdin?.on("error", () => undefined);
  child.stderr?.on("data", (d) => {
    last.add(d);
    if (output) output.write(d);
    else if (echoStderr && isReady) process.stderr.write(d);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(new Error(`${name} was not ready after ${timeoutMs} ms:\n${last.text}`));
      child.kill("SIGTERM");
    }, timeoutMs);
    /** @param {Error} err */
    const fail = (err) => {
      clearTimeout(timer);
      reject(err);
    };
    child.once("error", (err) => fail(new Error(`${name} could not start: ${err.message}`)));
    // "close", not "exit": by then its last words are read.
    child.once("close", (code, signal) => {
      if (!isReady) fail(new Error(`${name} exited (${signal || `code ${code}`}) before it was ready:\n${last.text.trim()}`));
    });
    child.stdout?.on("data", (d) => {
      last.add(d);
      if (output) output.write(d);
      if (!isReady) {
        stdout += d;
        const match = stdout.match(ready);
        if (!match) return;
        isReady = true;
        clearTimeout(timer);
        const rest = stdout.slice((match.index ?? 0) + match[0].length);
        stdout = "";
        if (unref) unrefChild(child);
        resolve({ child, ready: match, onLine, exited, stop });
        if (rest) emitLines(rest);
        return;
      }
      emitLines(String(d));
    });
  });

  /** @param {string} text */
  function emitLines(text) {
    stdout += text;
    let nl;
    while ((nl = stdout.indexOf("\n")) >= 0) {
      const line = stdout.slice(0, nl);
      stdout = stdout.slice(nl + 1);
      for (const l of lineListeners) l(line);
    }
  }

  /** @param {(line: string) => void} listener */
  function onLine(listener) {
    lineListeners.add(listener);
    return () => lineListeners.delete(listener);
  }

  function stop() {
    return new Promise((/** @type {(v?: void) => void} */ resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      // ref again, or our process may exit (code 0!) while awaiting this
      refChild(child);
      const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
      exited.then(() => {
        clearTimeout(kill);
        resolve();
      });
      child.stdin?.end();
      child.kill("SIGTERM");
    });
  }
}

/** @param {import("child_process").ChildProcess} child */
function unrefChild(child) {
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) /** @type {any} */ (s)?.unref?.();
}

/** @param {import("child_process").ChildProcess} child */
function refChild(child) {
  child.ref();
  for (const s of [child.stdin, child.stdout, child.stderr]) /** @type {any} */ (s)?.ref?.();
}

/**
 * Runs `node script ...args` to its end; resolves with its exit code and output, whatever the code.
 * @param {object} o
 * @param {string} o.script
 * @param {string[]} [o.args]
 * @param {NodeJS.ProcessEnv} [o.env]
 * @param {string} [o.cwd]
 * @param {(text: string) => void} [o.onOutput] receives its output (both streams) as it comes
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
function runChild({ script, args = [], env = process.env, cwd, onOutput }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
      stdout += d;
      onOutput?.(String(d));
    });
    child.stderr?.on("data", (d) => {
      stderr += d;
      onOutput?.(String(d));
    });
    child.once("error", (err) => {
      running.delete(child);
      reject(err);
    });
    // "close": its output is all read by then
    child.once("close", (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The child's half: runs `stop` once when the parent goes (our stdin closes), or on SIGTERM / SIGINT.
 * @param {() => Promise<unknown> | unknown} stop
 */
function endWithParent(stop) {
  /** @type {Promise<unknown> | undefined} */
  let stopping;
  const once = () => (stopping = stopping || Promise.resolve().then(stop));
  process.stdin.on("end", once);
  process.stdin.on("close", once);
  process.stdin.resume();
  process.on("SIGTERM", once);
  process.on("SIGINT", once);
}

module.exports = { startChild, runChild, endWithParent };
