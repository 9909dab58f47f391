// @ts-check
// One Medusa app instance for the chaos run, in a process of its own (Medusa 1.x holds its database
// connection at module level: one app per process). Prints `READY {"url","seed"?}` when ready; goes
// when the chaos run goes (its stdin closes) or on SIGTERM. With CHAOS_SEED=1 it also seeds the store.
"use strict";
process.env.MEDUSA_DISABLE_TELEMETRY = "true";
process.noDeprecation = true;

const path = require("path");
const { bootMedusa } = require("./lib/medusa-boot");
const { seedStore } = require("./lib/seed");
const { endWithParent } = require("./lib/child-process");

async function main() {
  /** @type {import("./lib/medusa-boot").BootedMedusa | undefined} */
  let medusa;
  endWithParent(async () => {
    await medusa?.close().catch(() => {});
    process.exit(0);
  });
  medusa = await bootMedusa({ directory: path.join(__dirname, "..", "store"), databaseUrl: process.env.DATABASE_URL });
  const seed =
    process.env.CHAOS_SEED === "1"
      ? await seedStore({ container: medusa.container, url: medusa.url, paymentProviders: ["klarna", "manual"] })
      : undefined;
  process.stdout.write(`READY ${JSON.stringify({ url: medusa.url, seed })}\n`);
}

main().catch((err) => {
  process.stderr.write(`chaos instance failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
