#!/usr/bin/env node
// @ts-check
// Runs Medusa 1.20's migrations for the project in process.cwd() (the folder
// with medusa-config.js), the same steps as `medusa migrations run`
// (dist/commands/migrate.js `main`, the "run" branch) but without the CLI's
// flaws: the CLI calls process.exit() before logging "Migrations completed."
// and its yargs wrapper (medusa-cli create-cli.js handlerP) only console.logs a
// rejection, so a failure can leave it hanging / exiting 0.
// Exit code 0 = all migrations applied; 1 = failure (message on stderr).
// Meant to run in a child process (see lib/migrations.js): it sets the
// module-level typeorm dataSource of @medusajs/medusa/dist/loaders/database.

async function main() {
  const directory = process.cwd();
  process.env.MEDUSA_DISABLE_TELEMETRY = process.env.MEDUSA_DISABLE_TELEMETRY || "true";
  const req = (/** @type {string} */ p) => require(require.resolve(p, { paths: [directory] }));
  const { asValue, createContainer } = req("awilix");
  const utils = req("@medusajs/utils");
  const loadConfig = req("@medusajs/medusa/dist/loaders/config").default;
  const loadFeatureFlags = req("@medusajs/medusa/dist/loaders/feature-flags").default;
  const databaseLoader = req("@medusajs/medusa/dist/loaders/database").default;
  const getMigrationsMod = req("@medusajs/medusa/dist/commands/utils/get-migrations");
  const pgConnectionLoader = req("@medusajs/medusa/dist/loaders/pg-connection").default;
  const { loadMedusaApp } = req("@medusajs/medusa/dist/loaders/medusa-app");
  const logger = req("@medusajs/medusa/dist/loaders/logger").default;

  const configModule = loadConfig(directory);
  const featureFlagRouter = loadFeatureFlags(configModule);
  if (featureFlagRouter.isFeatureEnabled(utils.MedusaV2Flag.key)) {
    throw new Error("medusa_v2 feature flag is on: not supported by this runner");
  }
  // 1. core + plugin + project migrations (typeorm)
  const { coreMigrations } = getMigrationsMod.default(directory, featureFlagRouter);
  const { migrations: moduleMigrations } = getMigrationsMod.getModuleSharedResources(configModule, featureFlagRouter);
  const container = createContainer();
  container.register("db_entities", asValue([]));
  const dataSource = await databaseLoader({
    container,
    configModule,
    customOptions: {
      migrations: coreMigrations.concat(moduleMigrations),
      logging: process.env.MIGRATIONS_LOGGING === "1" ? "all" : ["error"],
    },
  });
  const applied = await dataSource.runMigrations();
  await dataSource.destroy();
  // 2. isolated modules (none with the default config) and link modules
  await getMigrationsMod.runIsolatedModulesMigration(configModule);
  const linkContainer = utils.createMedusaContainer();
  linkContainer.register({
    featureFlagRouter: asValue(featureFlagRouter),
    [utils.ContainerRegistrationKeys.LOGGER]: asValue(logger),
  });
  const pg = await pgConnectionLoader({ configModule, container: linkContainer });
  const { runMigrations } = await loadMedusaApp({ configModule, container: linkContainer }, { registerInContainer: false });
  await runMigrations({ database: { clientUrl: configModule.projectConfig.database_url } });
  await pg.destroy?.();
  process.stdout.write(
    JSON.stringify({ applied: applied.map((/** @type {{ name: string }} */ m) => m.name), total: coreMigrations.length + moduleMigrations.length }) +
      "\n",
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`migrations failed: ${(err && err.stack) || err}\n`);
    process.exit(1);
  },
);
