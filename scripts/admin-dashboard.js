// @ts-check
// Builds Medusa's admin dashboard (@medusajs/admin 7.x) for the demo and test store in store/, with
// this plugin's widgets (dist/admin/_virtual_entry.js), and caches the build: the same inputs reuse
// it, anything else builds anew (21 s measured on 2 cores, about 45 s on a fresh machine).
//
//   const { dashboardBuild } = require("./admin-dashboard")
//   const dir = await dashboardBuild()   // -> folder with index.html; give it to the store as
//                                        //    KLARNA_ADMIN_BUILD_DIR (store/medusa-config.js)
//
// How `medusa-admin build` finds things (read from @medusajs/admin 7.1.18 and admin-ui 2.1.18):
//  - it reads `medusa-config.js` from the working folder: @medusajs/admin must be in its plugins, and
//    only plugins whose options carry `enableUI: true` get their widgets in;
//  - it copies the dashboard's sources into `<working folder>/.cache` and bundles them from there, so
//    the working folder must resolve node_modules: it lives in node_modules/.cache here;
//  - webpack 5.88.x: newer 5.x rejects webpackbar's progress options ("unknown property 'name'").
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { runChild } = require("./lib/child-process");

const ROOT = path.resolve(__dirname, "..");
const STORE_DIR = path.join(ROOT, "store");
// One cache per checkout, in the OS temp folder (not under node_modules: the dashboard's webpack
// config compiles its TypeScript sources only outside paths matching /node_modules/).
const CACHE_ROOT = path.join(os.tmpdir(), `medusa-plugin-klarna-admin-${crypto.createHash("sha256").update(ROOT).digest("hex").slice(0, 8)}`);
/** Bump when the way the dashboard is built changes. */
const RECIPE = "1";

/** @param {string} pkg */
function version(pkg) {
  // Some packages do not export ./package.json: read it from node_modules directly.
  return JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
}

/** What the build depends on: the plugin's widget bundle, the dashboard's packages, the recipe. */
function inputsHash() {
  const entry = path.join(ROOT, "dist", "admin", "_virtual_entry.js");
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first (it runs medusa-admin bundle).`);
  const h = crypto.createHash("sha256");
  h.update(`recipe ${RECIPE}\n`);
  for (const pkg of ["@medusajs/admin", "@medusajs/admin-ui", "@medusajs/ui", "medusa-react", "webpack", "react"])
    h.update(`${pkg}@${version(pkg)}\n`);
  h.update(fs.readFileSync(entry));
  h.update(fs.readFileSync(path.join(STORE_DIR, "medusa-config.js")));
  return h.digest("hex").slice(0, 16);
}

/**
 * The built dashboard's folder (with index.html), built now unless a build of the same inputs is
 * cached. `log` receives the build's output lines.
 */
/** @param {{ log?: (line: string) => void }} [opts] */
async function dashboardBuild({ log = () => {} } = {}) {
  const hash = inputsHash();
  const done = path.join(CACHE_ROOT, hash, "build");
  if (fs.existsSync(path.join(done, "index.html"))) return { dir: done, cached: true, ms: 0 };

  const t0 = Date.now();
  const work = path.join(CACHE_ROOT, `${hash}.${process.pid}.tmp`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(work, "node_modules"), "dir");
  fs.writeFileSync(path.join(work, "package.json"), JSON.stringify({ name: "klarna-admin-dashboard-build", private: true, dependencies: {} }));
  // The store's own config, with the admin plugin switched on (see store/medusa-config.js).
  fs.writeFileSync(path.join(work, "medusa-config.js"), `module.exports = require(${JSON.stringify(path.join(STORE_DIR, "medusa-config.js"))})\n`);
  const outDir = path.join(work, "build");
  const bin = require.resolve("@medusajs/admin/bin/medusa-admin.js", { paths: [ROOT] });
  let tail = "";
  const { code } = await runChild({
    script: bin,
    args: ["build"],
    cwd: work,
    env: { ...process.env, KLARNA_ADMIN_BUILD_DIR: outDir, NODE_ENV: "production", MEDUSA_DISABLE_TELEMETRY: "true" },
    onOutput: (text) => {
      tail = (tail + text).slice(-4000);
      for (const line of text.split("\n")) if (line.trim()) log(line);
    },
  });
  if (code !== 0 || !fs.existsSync(path.join(outDir, "index.html"))) throw new Error(`medusa-admin build failed (exit ${code}):\n${tail}`);
  // Keep the build only: the copied dashboard sources are ~100 MB. One cached build is enough.
  fs.rmSync(path.join(work, ".cache"), { recursive: true, force: true });
  for (const old of fs.readdirSync(CACHE_ROOT)) {
    if (old !== path.basename(work) && old !== hash && !old.endsWith(".tmp")) fs.rmSync(path.join(CACHE_ROOT, old), { recursive: true, force: true });
  }
  // Another process (the demo, a test) may have finished a build of the same inputs meanwhile, and
  // may be serving it: keep that one.
  if (fs.existsSync(path.join(done, "index.html"))) {
    fs.rmSync(work, { recursive: true, force: true });
    return { dir: done, cached: true, ms: Date.now() - t0 };
  }
  fs.rmSync(path.join(CACHE_ROOT, hash), { recursive: true, force: true }); // an unfinished one
  fs.renameSync(work, path.join(CACHE_ROOT, hash));
  return { dir: done, cached: false, ms: Date.now() - t0 };
}

module.exports = { dashboardBuild, inputsHash, CACHE_ROOT };

if (require.main === module) {
  dashboardBuild({ log: (/** @type {string} */ l) => process.stderr.write(l + "\n") }).then(
    (r) => console.log(JSON.stringify(r)),
    (e) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
