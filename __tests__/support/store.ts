import * as path from "path";
import request from "supertest";
import { PluginDatabase } from "../../src/medusa/plugin-db";
import { specProblems } from "./openapi";
import { PASSWORD, RunningEmulator, startEmulator, USERNAME } from "./emulator";

/**
 * A real Medusa 1.20 store for integration tests: embedded PostgreSQL (in a child process), Medusa's
 * and the plugin's migrations, the store booted in-process with the plugin loaded from dist/, and the
 * Klarna emulator as Klarna, over real HTTP.
 */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const harness = require("../../scripts/harness");

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

export async function startStore(
  opts: { pluginOptions?: Record<string, unknown>; emulator?: RunningEmulator; env?: Record<string, string> } = {},
): Promise<TestStore> {
  const k = opts.emulator ?? (await startEmulator());
  const pg = await harness.startPostgres();
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
  try {
    await harness.runMigrations({ directory: STORE_DIR, databaseUrl: pg.url, env });
    medusa = await harness.bootMedusa({ directory: STORE_DIR, databaseUrl: pg.url });
  } catch (err) {
    await pg.stop();
    if (!opts.emulator) await k.stop();
    throw err;
  }
  const seed = await harness.seedStore({ container: medusa.container, url: medusa.url, paymentProviders: ["klarna", "manual"] });
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

function ok(res: request.Response, what: string): request.Response {
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

/** A shopper checks out with Klarna through the store API; Klarna's widget is the emulator's authorise call. */
export async function checkoutWithKlarna(s: TestStore, opts: CheckoutOptions = {}) {
  const st = s.store();
  const { body: created } = ok(await st.post("/store/carts", { region_id: opts.regionId ?? s.seed.region.id, country_code: opts.country ?? "de" }), "create cart");
  const cartId = created.cart.id;
  const items = opts.items ?? [
    { variant_id: s.seed.variants[0].id, quantity: 2 },
    { variant_id: s.seed.variants[1].id, quantity: 1 },
  ];
  for (const item of items) ok(await st.post(`/store/carts/${cartId}/line-items`, item), "add item");
  if (opts.discountCode) ok(await st.post(`/store/carts/${cartId}`, { discounts: [{ code: opts.discountCode }] }), "discount");
  ok(
    await st.post(`/store/carts/${cartId}`, {
      email: "erika@example.com",
      shipping_address: { first_name: "Erika", last_name: "Mustermann", address_1: "Unter den Linden 1", city: "Berlin", postal_code: "10117", country_code: opts.country ?? "de" },
    }),
    "address",
  );
  const { body: options } = ok(await st.get(`/store/shipping-options/${cartId}`), "shipping options");
  const option = options.shipping_options.find((o: any) => !o.is_return);
  if (!option) throw new Error(`no shipping option for cart ${cartId}`);
  ok(await st.post(`/store/carts/${cartId}/shipping-methods`, { option_id: option.id }), "shipping method");
  ok(await st.post(`/store/carts/${cartId}/payment-sessions`), "payment sessions");
  const { body: selected } = ok(await st.post(`/store/carts/${cartId}/payment-session`, { provider_id: "klarna" }), "select klarna");
  const session = selected.cart.payment_session;
  const auth = await s.k.control("POST", `/sessions/${session.data.session_id}/authorize`, opts.authorize ?? {});
  if (auth.authorization_token) {
    ok(await st.post(`/store/carts/${cartId}/payment-sessions/klarna`, { data: { authorization_token: auth.authorization_token } }), "store token");
  }
  if (opts.beforeComplete) await opts.beforeComplete(auth);
  const completed = await st.post(`/store/carts/${cartId}/complete`);
  return { cartId, cart: selected.cart, session, auth, completed };
}

/** Checkout, then the admin captures: an order paid and captured with Klarna. */
export async function capturedOrder(s: TestStore, opts: CheckoutOptions = {}) {
  const { completed, cart } = await checkoutWithKlarna(s, opts);
  ok(completed, "complete cart");
  if (completed.body.type !== "order") throw new Error(`cart did not complete: ${JSON.stringify(completed.body).slice(0, 500)}`);
  const order = completed.body.data;
  const { body } = ok(await s.admin().post(`/admin/orders/${order.id}/capture`), "capture");
  return { order: body.order, cart, klarnaOrderId: body.order.payments[0].data.order_id as string };
}

/** The admin requests a return of some items with the priced return shipping option. */
export async function requestReturn(s: TestStore, order: any, items: Array<{ item_id: string; quantity: number }>, opts: { shipping?: boolean; price?: number } = {}) {
  const body: any = { items };
  if (opts.shipping !== false) body.return_shipping = { option_id: s.seed.returnShippingOption.id, price: opts.price ?? 300 };
  const { body: res } = ok(await s.admin().post(`/admin/orders/${order.id}/return`, body), "request return");
  return res.order.returns.find((r: any) => r.status === "requested");
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

export const waitFor = harness.waitFor as <T>(fn: () => Promise<T> | T, opts?: { timeout?: number; interval?: number }) => Promise<T>;

/** A second market outside Klarna's return-fee list: United States, USD, 8 % tax, Klarna enabled. */
export async function addUsRegion(s: TestStore) {
  const a = s.admin();
  const usd = await a.post("/admin/store/currencies/usd");
  if (usd.status !== 422) ok(usd, "usd"); // 422: already a store currency (the default store has it)
  const { body: r } = ok(
    await a.post("/admin/regions", { name: "United States", currency_code: "usd", tax_rate: 8, payment_providers: ["klarna", "manual"], fulfillment_providers: ["manual"], countries: ["us"] }),
    "us region",
  );
  const region = r.region;
  for (const variant of s.seed.variants) {
    const price = variant.sku.endsWith("-S") ? 2500 : 3000;
    ok(await a.post(`/admin/products/${s.seed.product.id}/variants/${variant.id}`, { prices: [...variant.prices.map((p: any) => ({ id: p.id, amount: p.amount, currency_code: p.currency_code })), { currency_code: "usd", amount: price }] }), "usd price");
  }
  const { body: so } = ok(await a.post("/admin/shipping-options", { name: "UPS Ground", region_id: region.id, provider_id: "manual", data: { id: "manual-fulfillment" }, price_type: "flat_rate", amount: 500, is_return: false }), "us shipping");
  const { body: rso } = ok(await a.post("/admin/shipping-options", { name: "UPS Return", region_id: region.id, provider_id: "manual", data: { id: "manual-fulfillment-return" }, price_type: "flat_rate", amount: 400, is_return: true }), "us return");
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
      variants: [{ title: "Hardcover", sku: "BOOK-BIRDS", prices: [{ currency_code: "eur", amount: 1999 }], options: [{ value: "Hardcover" }], manage_inventory: false }],
    }),
    "book",
  );
  const { body: t } = ok(await a.post("/admin/tax-rates", { code: "DE7", name: "Reduced rate", region_id: s.seed.region.id, rate: 7 }), "tax rate");
  ok(await a.post(`/admin/tax-rates/${t.tax_rate.id}/products/batch`, { products: [p.product.id] }), "tax override");
  return p.product;
}

export async function addPercentageDiscount(s: TestStore, code: string, percent: number) {
  const { body } = ok(
    await s.admin().post("/admin/discounts", { code, rule: { type: "percentage", value: percent, allocation: "total" }, regions: [s.seed.region.id], is_dynamic: false }),
    "discount",
  );
  return body.discount;
}

export { ok };

/** Every request the emulator received, checked against Klarna's published request schemas. */
export async function journalSpecProblems(s: TestStore): Promise<string[]> {
  const { entries } = await s.k.control("GET", "/journal");
  return (entries as any[]).flatMap((e) => specProblems(e.method, e.path, e.body));
}
