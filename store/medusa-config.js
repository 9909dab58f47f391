// The demo and test store: a Medusa 1.20 project that uses medusa-plugin-klarna from this checkout.
// It lives in its own folder because Medusa also loads `<project>/dist` as the project's own code:
// at the repository root it would load the plugin twice.
// Everything comes from the environment, so the same file serves the demo, the tests and the CLI.
const path = require("path");

// The admin dashboard (@medusajs/admin) joins only where KLARNA_ADMIN_BUILD_DIR names its built
// files (the browser tests, `medusa-admin build`): the other tests and the demo stay API-only.
const adminBuildDir = process.env.KLARNA_ADMIN_BUILD_DIR;

const klarnaOptions = {
  ...(adminBuildDir ? { enableUI: true } : {}),
  username: process.env.KLARNA_USERNAME || "emulator",
  password: process.env.KLARNA_PASSWORD || "emulator-secret",
  base_url: process.env.KLARNA_BASE_URL || "http://127.0.0.1:4010",
  timeout_ms: Number(process.env.KLARNA_TIMEOUT_MS || 10000),
  ...(process.env.KLARNA_PLUGIN_OPTIONS ? JSON.parse(process.env.KLARNA_PLUGIN_OPTIONS) : {}),
};

module.exports = {
  projectConfig: {
    database_url: process.env.DATABASE_URL,
    database_type: "postgres",
    database_extra: {},
    jwt_secret: process.env.JWT_SECRET || "demo-jwt-secret",
    cookie_secret: process.env.COOKIE_SECRET || "demo-cookie-secret",
    store_cors: "*",
    admin_cors: "*",
    auth_cors: "*",
  },
  plugins: [
    // Old-style providers from the registry: fulfillment "manual" (shipping and return options need a
    // fulfillment provider) and payment "manual" (the benchmark's non-Klarna baseline).
    "medusa-fulfillment-manual",
    "medusa-payment-manual",
    { resolve: path.resolve(__dirname, ".."), options: klarnaOptions },
    ...(adminBuildDir ? [{ resolve: "@medusajs/admin", options: { serve: true, autoRebuild: false, path: "/app", outDir: adminBuildDir } }] : []),
  ],
  modules: {
    eventBus: { resolve: "@medusajs/event-bus-local" },
    cacheService: { resolve: "@medusajs/cache-inmemory" },
  },
  featureFlags: {},
};
