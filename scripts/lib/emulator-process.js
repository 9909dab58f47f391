// @ts-check
// The klarna-emulator bin in a child process (its state does not weigh on the caller's heap):
//   const emulator = await startEmulatorProcess({ username, password, settings })
//     -> { url, control(method, path, body), stop() }
"use strict";

const path = require("path");
const { startChild } = require("./child-process");
const { client } = require("./http");

/**
 * @param {{ username?: string, password?: string, settings?: Record<string, unknown> }} [options]
 */
async function startEmulatorProcess({ username, password, settings } = {}) {
  // --stop-with-stdin: the emulator goes when this process goes, however it ends.
  const args = ["--port", "0", "--stop-with-stdin"];
  if (username) args.push("--username", username);
  if (password) args.push("--password", password);
  if (settings) args.push("--settings", JSON.stringify(settings));
  const emulator = await startChild({
    name: "the Klarna emulator",
    script: path.join(__dirname, "..", "..", "bin", "klarna-emulator.js"),
    args,
    ready: /listening on (http:\/\/\S+)\s/,
  });
  const url = emulator.ready[1];
  const http = client(`${url}/_emulator`);
  return {
    url,
    /**
     * The emulator's control API (/_emulator/...): the parsed answer; throws on a status of 300 or more.
     * @param {string} method
     * @param {string} p
     * @param {unknown} [body]
     */
    async control(method, p, body) {
      const res = await http.send(method, p, body);
      if (res.status >= 300) throw new Error(`emulator ${method} ${p}: ${res.status} ${JSON.stringify(res.data)}`);
      return res.data;
    },
    stop: emulator.stop,
  };
}

module.exports = { startEmulatorProcess };
