import * as path from "path";
import request from "supertest";
import { PluginDatabase } from "../../src/medusa/plugin-db";
import { journalSpecProblems } from "./openapi";
import { PASSWORD, RunningEmulator, startEmulator, USERNAME } from "./emulator";

/**
 * A real Medusa 1.20 store for integration tests: embedded PostgreSQL (in a child process), Medusa's
 * and the plugin's migrations, the store booted in-process with the plugin loaded from dist/, and the
 * Klarna emulator as Klarna, over real HTTP.
 */

const { startPostgres } = require("../../scripts/lib/postgres");
const { runMigrations } = require("../../scripts/lib/migrations");
const { bootMedusa } = require("../../scripts/lib/medusa-boot");
const { seedStore } = require("../../scripts/lib/seed");
const scripted = require("../../scripts/lib/checkout");
const wait = require("../../scripts/lib/wait");

export const STORE_DIR = path.resolve(__dirname, "../../store");

export interface TestStore {
  url: string;
  container: any;
  seed: any;
  k: RunningEmulator;
  db: { query<T = any>(sql: string, params?: unknown[]): Promise<T[]> };
  admin(): { get(p: string): request.Test; post(p: string, body?: object): request.Test; delete(p: string): request.Test };
  store(): { get(p: string): request.Test; post(p: string, body?: object): request.Test };
  stop(): Promise<void>;
}

export interface StoreOptions {
  pluginOptions?: Record<string, unknown>;
  /** An emulator of the caller's (left running on stop); default a fresh one. */
  emulator?: RunningEmulator;
  /** Environment for the store (and its migrations), e.g. a Medusa feature flag. */
  env?: Record<string, string>;
  /** The store's port, when its URL must be known before it boots (default: any free port). */
  port?: number;
}

export async function startStore(opts: StoreOptions = {}): Promise<TestStore> {
  const k = opts.emulator ?? (await startEmulator());
  let pg: any;
  const env = {
    KLARNA_BASE_URL: k.url,
    KLARNA_USERNAME: USERNAME,
    KLARNA_PASSWORD: PASSWORD,
    KLARNA_TIMEOUT_MS: "2000",
    KLARNA_PLUGIN_OPTIONS: JSON.stringify({ retry_base_delay_ms: 20, ...(opts.pluginOptions ?? {}) }),
    ...(opts.env ?? {}),
  };
  Object.assign(process.env, env);
  let medusa: any;
  let seed: any;
  try {
    pg = await startPostgres();
    await runMigrations({ directory: STORE_DIR, databaseUrl: pg.url, env });
    medusa = await bootMedusa({ directory: STORE_DIR, databaseUrl: pg.url, port: opts.port ?? 0 });
    seed = await seedStore({ container: medusa.container, url: medusa.url, paymentProviders: ["klarna", "manual"] });
  } catch (err) {
    // Stop what did start: a listening emulator or a booted store would keep jest from exiting.
    await medusa?.close().catch(() => undefined);
    await PluginDatabase.closeAll().catch(() => undefined);
    await pg?.stop();
    if (!opts.emulator) await k.stop();
    throw err;
  }
  const auth = { Authorization: `Bearer ${seed.token}` };
  const pk = { "x-publishable-api-key": seed.publishableApiKey };
  const manager = medusa.container.resolve("manager");
  return {
    url: medusa.url,
    container: medusa.container,
    seed,
    k,
    db: { query: (sql, params = []) => manager.query(sql, params) },
    admin: () => ({
      get: (p) => request(medusa.url).get(p).set(auth),
      post: (p, body = {}) => request(medusa.url).post(p).set(auth).send(body),
      delete: (p) => request(medusa.url).delete(p).set(auth),
    }),
    store: () => ({
      get: (p) => request(medusa.url).get(p).set(pk),
      post: (p, body = {}) => request(medusa.url).post(p).set(pk).send(body),
    }),
    async stop() {
      await medusa.close();
      await PluginDatabase.closeAll();
      await pg.stop();
      if (!opts.emulator) await k.stop();
    },
  };
}

/**
 * The fixture of every integration file that boots a store; call it once, at the top of the file:
 *
 *   const s = useStore({ env: { MEDUSA_FF_TAX_INCLUSIVE_PRICING: "true" }, setup: async (s) => { ... } });
 *
 * The store starts before the file's first test (then `setup` runs, for what the whole file needs)
 * and stops after its last. Around each test, `useEmulatorPerTest`: the emulator as it started, and
 * every request the plugin sent checked against Klarna's specs, also those in a journal the test
 * empties on the way. The handle is filled in when the store is up: read it inside tests and hooks,
 * not at the top of the file.
 */
export function useStore(
  opts: StoreOptions & {
    /** Options known only when the file starts (e.g. a free port the store's own URL needs). */
    prepare?: () => Promise<StoreOptions>;
    setup?: (s: TestStore) => Promise<void>;
  } = {},
): TestStore {
  const handle = {} as TestStore;
  let started: TestStore | undefined;
  const perTest = useEmulatorPerTest(() => handle.k);
  beforeAll(async () => {
    started = await startStore({ ...opts, ...(await opts.prepare?.()) });
    Object.assign(handle, started, { k: perTest.checked(started.k) });
    await opts.setup?.(handle);
  }, 180_000);
  afterAll(() => started?.stop());
  return handle;
}

/**
 * Before each test: the emulator's journal emptied, its faults removed, its settings back to what
 * they were before the first test (its orders and clock stay as they are). After each test: every
 * request it received (the plugin's, and the test's own) matches Klarna's published request schemas.
 * Requests in a journal emptied through `checked(k).control("DELETE", "/journal")` are checked
 * when it is emptied, and count for the test (or, before the first test, for the file's setup).
 */
export function useEmulatorPerTest(emulator: () => RunningEmulator): { checked(k: RunningEmulator): RunningEmulator } {
  const dropped: string[] = [];
  let startup: Record<string, unknown> | undefined;
  beforeEach(async () => {
    const k = emulator();
    if (!startup) {
      // The credentials are not settings a test changes (and the password comes back redacted).
      const { username: _u, password: _p, ...settings } = await k.control("GET", "/settings");
      startup = settings;
    }
    await k.control("DELETE", "/journal");
    await k.control("DELETE", "/faults");
    await k.control("PATCH", "/settings", startup);
    expect(dropped.splice(0)).toEqual([]); // what the file's setup sent
  });
  afterEach(async () => {
    expect([...dropped.splice(0), ...(await journalSpecProblems(emulator()))]).toEqual([]);
  });
  return {
    checked: (k) => ({
      ...k,
      async control(method, path, body) {
        if (method === "DELETE" && path === "/journal") dropped.push(...(await journalSpecProblems(k)));
        return k.control(method, path, body);
      },
    }),
  };
}

function ok<T extends { status: number; body: any }>(res: T, what: string): T {
  if (res.status >= 300) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 800)}`);
  return res;
}

export interface CheckoutOptions {
  items?: Array<{ variant_id: string; quantity: number }>;
  country?: string;
  regionId?: string;
  discountCode?: string;
  authorize?: { approved?: boolean; fraud_status?: "ACCEPTED" | "PENDING" | "REJECTED" };
  /** Runs after the widget's authorisation, before the cart is completed. */
  beforeComplete?: (auth: { authorization_token?: string }) => Promise<void>;
}

export interface Checkout {
  cartId: string;
  /** The cart once Klarna is selected. */
  cart: any;
  /** Its Klarna payment session. */
  session: any;
  /** Klarna's widget's answer (the emulator's authorise call). */
  auth: any;
  /** POST /store/carts/:id/complete, whatever its status. */
  completed: { status: number; body: any };
}

/** A shopper checks out with Klarna through the store API (scripts/lib/checkout.js, as the demo does). */
export function checkoutWithKlarna(s: TestStore, opts: CheckoutOptions = {}): Promise<Checkout> {
  return scripted.checkout({ url: s.url, seed: s.seed, provider: "klarna", emulatorUrl: s.k.url, email: "erika@example.com", ...opts });
}

/** Checkout, then the admin captures: an order paid and captured with Klarna. */
export async function capturedOrder(s: TestStore, opts: CheckoutOptions = {}) {
  const { order: placed, cart } = await scripted.placeOrder({
    url: s.url,
    seed: s.seed,
    provider: "klarna",
    emulatorUrl: s.k.url,
    email: "erika@example.com",
    ...opts,
  });
  const order = await scripted.capture({ url: s.url, token: s.seed.token }, placed.id);
  return { order, cart, klarnaOrderId: order.payments[0].data.order_id as string };
}

/** The admin requests a return of some items with the priced return shipping option. */
export function requestReturn(
  s: TestStore,
  order: any,
  items: Array<{ item_id: string; quantity: number }>,
  opts: { shipping?: boolean; price?: number } = {},
): Promise<any> {
  const shipping = opts.shipping === false ? null : { option_id: s.seed.returnShippingOption.id, price: opts.price ?? 300 };
  return scripted.requestReturn({ url: s.url, token: s.seed.token }, order.id, items, shipping);
}

/** The Klarna order, as Klarna's Order Management API shows it. */
export async function klarnaOrder(s: TestStore, klarnaOrderId: string): Promise<any> {
  return (await s.k.call("GET", `/ordermanagement/v1/orders/${klarnaOrderId}`)).data;
}

/** The order's line item of a variant. */
export function itemOf(order: any, variantId: string): any {
  return order.items.find((i: any) => i.variant_id === variantId);
}

/** An order paid with Klarna, captured and fulfilled (claims and swaps are of fulfilled items); the journal then emptied. */
export async function fulfilledOrder(s: TestStore) {
  const { order, klarnaOrderId } = await capturedOrder(s);
  ok(
    await s.admin().post(`/admin/orders/${order.id}/fulfillment`, { items: order.items.map((i: any) => ({ item_id: i.id, quantity: i.quantity })) }),
    "fulfil",
  );
  await s.k.control("DELETE", "/journal");
  return { order, klarnaOrderId };
}

/**
 * What a receive needs: an order paid with Klarna and captured, and a requested return of one S
 * T-shirt with the priced return label; the emulator's journal then emptied.
 */
export async function orderWithReturn(s: TestStore) {
  const { order, klarnaOrderId } = await capturedOrder(s);
  const tee = itemOf(order, s.seed.variants[0].id);
  const items = [{ item_id: tee.id, quantity: 1 }];
  const ret = await requestReturn(s, order, items);
  await s.k.control("DELETE", "/journal");
  return { order, klarnaOrderId, tee, ret, items };
}

/**
 * Klarna makes the refund but its answer is lost (the connection drops after the state change), on
 * the next `attempts` refund calls, and Klarna's order cannot be read either: the outcome stays unknown.
 */
export async function loseRefundAnswers(s: TestStore, attempts = 3): Promise<void> {
  await s.k.control("POST", "/faults", { method: "POST", path: "/ordermanagement/v1/orders/*/refunds", drop: "after", times: attempts });
  await s.k.control("POST", "/faults", { method: "GET", path: "/ordermanagement/v1/orders/*", status: 503, times: 3 });
}

export function receive(s: TestStore, returnId: string, items: Array<{ item_id: string; quantity: number }>, refund?: number) {
  return s.admin().post(`/admin/returns/${returnId}/receive`, refund === undefined ? { items } : { items, refund });
}

export function ledgerRows(s: TestStore, where = "TRUE", params: unknown[] = []) {
  return s.db.query(`SELECT * FROM klarna_refund WHERE ${where} ORDER BY created_at`, params);
}

export async function klarnaPosts(s: TestStore, pathPart: string) {
  const { entries } = await s.k.control("GET", "/journal");
  return (entries as any[]).filter((e) => e.method === "POST" && e.path.includes(pathPart));
}

export const waitFor = wait.waitFor as <T>(fn: () => Promise<T> | T, opts?: { timeout?: number; interval?: number }) => Promise<T>;

/** A second market outside Klarna's return-fee list: United States, USD, 8 % tax, Klarna enabled. */
export async function addUsRegion(s: TestStore) {
  const a = s.admin();
  const usd = await a.post("/admin/store/currencies/usd");
  if (usd.status !== 422) ok(usd, "usd"); // 422: already a store currency (the default store has it)
  const { body: r } = ok(
    await a.post("/admin/regions", {
      name: "United States",
      currency_code: "usd",
      tax_rate: 8,
      payment_providers: ["klarna", "manual"],
      fulfillment_providers: ["manual"],
      countries: ["us"],
    }),
    "us region",
  );
  const region = r.region;
  for (const variant of s.seed.variants) {
    const price = variant.sku.endsWith("-S") ? 2500 : 3000;
    ok(
      await a.post(`/admin/products/${s.seed.product.id}/variants/${variant.id}`, {
        prices: [
          ...variant.prices.map((p: any) => ({ id: p.id, amount: p.amount, currency_code: p.currency_code })),
          { currency_code: "usd", amount: price },
        ],
      }),
      "usd price",
    );
  }
  const { body: so } = ok(
    await a.post("/admin/shipping-options", {
      name: "UPS Ground",
      region_id: region.id,
      provider_id: "manual",
      data: { id: "manual-fulfillment" },
      price_type: "flat_rate",
      amount: 500,
      is_return: false,
    }),
    "us shipping",
  );
  const { body: rso } = ok(
    await a.post("/admin/shipping-options", {
      name: "UPS Return",
      region_id: region.id,
      provider_id: "manual",
      data: { id: "manual-fulfillment-return" },
      price_type: "flat_rate",
      amount: 400,
      is_return: true,
    }),
    "us return",
  );
  return { region, shippingOption: so.shipping_option, returnShippingOption: rso.shipping_option };
}

/** A book at 7 % VAT (a tax-rate override), for returns mixing tax rates. */
export async function addReducedRateProduct(s: TestStore) {
  const a = s.admin();
  const { body: p } = ok(
    await a.post("/admin/products", {
      title: "Field Guide to Birds",
      status: "published",
      options: [{ title: "Format" }],
      variants: [
        {
          title: "Hardcover",
          sku: "BOOK-BIRDS",
          prices: [{ currency_code: "eur", amount: 1999 }],
          options: [{ value: "Hardcover" }],
          manage_inventory: false,
        },
      ],
    }),
    "book",
  );
  const { body: t } = ok(await a.post("/admin/tax-rates", { code: "DE7", name: "Reduced rate", region_id: s.seed.region.id, rate: 7 }), "tax rate");
  ok(await a.post(`/admin/tax-rates/${t.tax_rate.id}/products/batch`, { products: [p.product.id] }), "tax override");
  return p.product;
}

export async function addPercentageDiscount(s: TestStore, code: string, percent: number) {
  const { body } = ok(
    await s.admin().post("/admin/discounts", {
      code,
      rule: { type: "percentage", value: percent, allocation: "total" },
      regions: [s.seed.region.id],
      is_dynamic: false,
    }),
    "discount",
  );
  return body.discount;
}

export { ok };

/** A free TCP port on loopback now (for a store whose own URL must be known before it boots). */
export function freePort(): Promise<number> {
  const net = require("net") as typeof import("net");
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
