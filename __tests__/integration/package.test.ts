import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PASSWORD, RunningEmulator, startEmulator, USERNAME } from "../support/emulator";
import { useEmulatorPerTest } from "../support/store";

/**
 * "Installed into Medusa stores" must hold for the package as published: pack it, install the tarball
 * into a scratch store the way a store owner would, run Medusa's and the plugin's migrations there,
 * boot Medusa, and see pp_klarna registered and a checkout work. Catches a wrong `files` list, a
 * missing dist/, a bundled second copy of @medusajs/medusa, and migrations Medusa cannot find.
 */

const { startPostgres } = require("../../scripts/lib/postgres");
const { runMigrations } = require("../../scripts/lib/migrations");
const { bootMedusa } = require("../../scripts/lib/medusa-boot");
const { seedStore } = require("../../scripts/lib/seed");
const { checkout } = require("../../scripts/lib/checkout");

const ROOT = path.resolve(__dirname, "../..");
const rootPkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));

let dir: string;
let k: RunningEmulator;
let pg: any;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "klarna-store-"));
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  })
    .trim()
    .split("\n")
    .pop()!;
  const dev = rootPkg.devDependencies;
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({
      name: "scratch-store",
      private: true,
      dependencies: {
        "@medusajs/medusa": dev["@medusajs/medusa"],
        "@medusajs/event-bus-local": dev["@medusajs/event-bus-local"],
        "@medusajs/cache-inmemory": dev["@medusajs/cache-inmemory"],
        "medusa-fulfillment-manual": dev["medusa-fulfillment-manual"],
        "medusa-interfaces": dev["medusa-interfaces"],
        typeorm: dev.typeorm,
        pg: dev.pg,
        express: rootPkg.dependencies.express,
        "medusa-plugin-klarna": `file:./${packed}`,
      },
    }),
  );
  fs.writeFileSync(
    path.join(dir, "medusa-config.js"),
    `module.exports = {
  projectConfig: { database_url: process.env.DATABASE_URL, database_type: "postgres", jwt_secret: "s", cookie_secret: "s", store_cors: "*", admin_cors: "*" },
  plugins: [
    "medusa-fulfillment-manual",
    { resolve: "medusa-plugin-klarna", options: JSON.parse(process.env.KLARNA_OPTIONS) },
  ],
  modules: { eventBus: { resolve: "@medusajs/event-bus-local" }, cacheService: { resolve: "@medusajs/cache-inmemory" } },
}
`,
  );
  // As a store owner would; the packages come from npm's cache where it has them.
  execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: dir,
    stdio: "ignore",
    timeout: 300_000,
  });
  k = await startEmulator();
  pg = await startPostgres();
}, 400_000);

afterAll(async () => {
  await pg?.stop();
  await k?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const goodOptions = () => ({ username: USERNAME, password: PASSWORD, base_url: k.url });

it("the tarball holds the build, not the sources, and brings no second copy of Medusa or TypeORM", () => {
  const installed = path.join(dir, "node_modules", "medusa-plugin-klarna");
  expect(fs.existsSync(path.join(installed, "dist", "services", "klarna.js"))).toBe(true);
  expect(fs.existsSync(path.join(installed, "dist", "migrations"))).toBe(true);
  expect(fs.existsSync(path.join(installed, "bin", "klarna-emulator.js"))).toBe(true);
  // The admin panel, prebuilt for a store's `medusa-admin build`; the dashboard itself stays optional.
  expect(fs.existsSync(path.join(installed, "dist", "admin", "_virtual_entry.js"))).toBe(true);
  expect(fs.existsSync(path.join(dir, "node_modules", "@medusajs", "admin"))).toBe(false);
  expect(fs.existsSync(path.join(installed, "src"))).toBe(false);
  expect(fs.existsSync(path.join(installed, "__tests__"))).toBe(false);
  expect(fs.existsSync(path.join(installed, "node_modules", "@medusajs", "medusa"))).toBe(false);
  expect(fs.existsSync(path.join(installed, "node_modules", "typeorm"))).toBe(false);
});

it("a bad option stops the store, naming every bad field and echoing no secret", () => {
  const bad = { username: "", password: "hunter2-secret", region: "mars", timeout_ms: "fast", colour: "red" };
  const script = `require(${JSON.stringify(path.join(ROOT, "scripts/lib/medusa-boot.js"))}).bootMedusa({ directory: process.cwd(), databaseUrl: process.env.DATABASE_URL })
    .then(() => { console.log("BOOTED"); process.exit(0) }, (e) => { console.error("BOOT FAILED: " + (e && e.message)); process.exit(1) })`;
  // The schema must exist for Medusa to reach the plugin; the options are checked when the processor is built.
  const migrate = spawnSync(process.execPath, [path.join(ROOT, "scripts/migrate-runner.js")], {
    cwd: dir,
    env: { ...process.env, DATABASE_URL: pg.url, KLARNA_OPTIONS: JSON.stringify(goodOptions()) },
    encoding: "utf8",
    timeout: 120_000,
  });
  expect(migrate.status).toBe(0);
  const res = spawnSync(process.execPath, ["-e", script], {
    cwd: dir,
    env: { ...process.env, NODE_ENV: "development", DATABASE_URL: pg.url, KLARNA_OPTIONS: JSON.stringify(bad) },
    encoding: "utf8",
    timeout: 120_000,
  });
  const out = `${res.stdout}\n${res.stderr}`;
  expect(res.status).not.toBe(0);
  expect(out).not.toContain("BOOTED");
  expect(out).toContain("medusa-plugin-klarna: invalid plugin options in medusa-config.js");
  expect(out).toContain("username: required");
  expect(out).toMatch(/region: Invalid enum value\. Expected 'eu' \| 'na' \| 'oc'/);
  expect(out).toMatch(/timeout_ms: Expected number/);
  expect(out).toContain("unknown option(s) colour");
  expect(out).not.toContain("hunter2-secret");
});

describe("installed", () => {
  // The packaged plugin's requests are checked against Klarna's specs too. Only here: the tests above
  // block the event loop (spawnSync) past the emulator's keep-alive, and a hook's request on the
  // pooled connection would then race the server closing it (ECONNRESET).
  useEmulatorPerTest(() => k);

  it("migrations find the plugin's table, Medusa registers pp_klarna, and a Klarna checkout works", async () => {
    process.env.KLARNA_OPTIONS = JSON.stringify(goodOptions());
    const migrated = await runMigrations({ directory: dir, databaseUrl: pg.url, env: { KLARNA_OPTIONS: process.env.KLARNA_OPTIONS } });
    expect(migrated.total).toBeGreaterThan(70);
    // Medusa resolves plugin names from the working directory, as `medusa start` in the store would.
    const cwd = process.cwd();
    process.chdir(dir);
    let medusa: any;
    try {
      medusa = await bootMedusa({ directory: dir, databaseUrl: pg.url });
    } finally {
      process.chdir(cwd);
    }
    try {
      expect(medusa.container.hasRegistration("pp_klarna")).toBe(true);
      const [table] = await medusa.container.resolve("manager").query(`SELECT to_regclass('klarna_refund') AS t`);
      expect(table.t).toBe("klarna_refund");
      const seed = await seedStore({ container: medusa.container, url: medusa.url, paymentProviders: ["klarna"] });
      const { completed: done } = await checkout({
        url: medusa.url,
        seed,
        provider: "klarna",
        emulatorUrl: k.url,
        items: [{ variant_id: seed.variants[0].id, quantity: 1 }],
      });
      expect(done.status).toBe(200);
      expect(done.body.type).toBe("order");
      const klarnaOrderId = done.body.data.payments[0].data.order_id;
      expect((await k.call("GET", `/ordermanagement/v1/orders/${klarnaOrderId}`)).data.status).toBe("AUTHORIZED");
    } finally {
      await medusa.close();
      const { PluginDatabase } = require(path.join(dir, "node_modules/medusa-plugin-klarna/dist/medusa/plugin-db"));
      await PluginDatabase.closeAll();
    }
  });
});
