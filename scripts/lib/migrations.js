// @ts-check
// Medusa's and the plugins' migrations for a store folder, run by ../migrate-runner.js (the steps of
// `medusa migrations run`, with a real exit code) in a child process with cwd = that folder.
"use strict";

const path = require("path");
const { runChild } = require("./child-process");

/**
 * @param {object} o
 * @param {string} o.directory     the folder with medusa-config.js
 * @param {string} o.databaseUrl
 * @param {Record<string, string | undefined>} [o.env]  more environment for medusa-config.js
 * @returns {Promise<{ applied: string[], total: number }>}  the migrations this run applied, of all known
 */
async function runMigrations({ directory, databaseUrl, env = {} }) {
  const { code, stdout, stderr } = await runChild({
    script: path.join(__dirname, "..", "migrate-runner.js"),
    cwd: directory,
    env: { ...process.env, DATABASE_URL: databaseUrl, MEDUSA_DISABLE_TELEMETRY: "true", ...env },
  });
  if (code !== 0) throw new Error(`migrations failed (exit ${code}):\n${stderr || stdout}`);
  const last = stdout.trim().split("\n").pop() || "";
  try {
    return JSON.parse(last);
  } catch (_) {
    throw new Error(`migrations: the runner exited 0 without its summary line:\n${stdout.slice(-2000)}`);
  }
}

module.exports = { runMigrations };
