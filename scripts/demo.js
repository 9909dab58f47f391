#!/usr/bin/env node
// npm run demo — a German shopper pays with Klarna, the admin captures, fulfils and ships the order,
// the shopper returns one item with a paid return label, the admin receives it, and the plugin
// refunds it at Klarna with item and return_fee lines. Everything runs here: embedded PostgreSQL,
// the Klarna emulator, a Medusa 1.20 store.
//   --json    print one JSON object as the last line
//   --keep    leave the store and the emulator running (Ctrl-C stops them)
//   --admin   also build (or reuse) Medusa's admin dashboard with the plugin's Klarna panel and serve
//             it from the store at /app; the shopper returns a second item, left for you to receive
//             there. With --keep: open the printed URL and log in.
// @ts-check
"use strict";
process.env.MEDUSA_DISABLE_TELEMETRY = "true";
process.noDeprecation = true;

const path = require("path");
const fs = require("fs");
const { flags } = require("./lib/flags");

const args = flags("demo", ["--json", "--keep", "--admin", "--verbose"]);
const JSON_OUT = args.has("--json");
const KEEP = args.has("--keep");
const VERBOSE = args.has("--verbose");
const ADMIN = args.has("--admin");

const ROOT = path.resolve(__dirname, "..");
if (!fs.existsSync(path.join(ROOT, "dist", "services", "klarna.js"))) {
  console.error("demo: the plugin is not built; run `npm run build` (npm install does it).");
  process.exit(1);
}
const { startPostgres } = require("./lib/postgres");
const { runMigrations } = require("./lib/migrations");
const { bootMedusa, hideAccessLog } = require("./lib/medusa-boot");
const { seedStore } = require("./lib/seed");
const { placeOrder, capture, fulfillAndShip } = require("./lib/checkout");
const { client } = require("./lib/http");
const { waitFor } = require("./lib/wait");
const { createEmulator } = require("../dist/emulator");

// Medusa's HTTP access log (morgan) is noise here; --verbose keeps it.
if (!VERBOSE) hideAccessLog();

const USERNAME = "demo-merchant";
const PASSWORD = "demo-api-key-" + Math.random().toString(36).slice(2);
const euro = (/** @type {number} */ n) => `€${(n / 100).toFixed(2)}`;
const say = (/** @type {unknown[]} */ ...a) => console.log(...a);
const indent = (/** @type {string} */ text, pad = "     ") =>
  text
    .split("\n")
    .map((l) => pad + l)
    .join("\n");

async function main() {
  const started = Date.now();
  /** @type {Array<() => Promise<unknown>>} */
  const stops = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  };
  try {
    say("Klarna refund demo — Medusa 1.20 + medusa-plugin-klarna, Klarna emulator, embedded PostgreSQL\n");

    // 0. The admin dashboard (--admin): built once per set of inputs, then reused.
    /** @type {{ dir: string, cached: boolean, ms: number } | undefined} */
    let dashboard;
    if (ADMIN) {
      say(`0. Admin dashboard (--admin): building Medusa's dashboard with the Klarna panel, or reusing the last build…`);
      const { dashboardBuild } = require("./admin-dashboard");
      dashboard = /** @type {{ dir: string, cached: boolean, ms: number }} */ (
        await dashboardBuild({ log: VERBOSE ? (/** @type {string} */ l) => say(`   ${l}`) : undefined })
      );
      say(`   ${dashboard.cached ? "Reused the cached build" : `Built in ${(dashboard.ms / 1000).toFixed(1)} s`}: ${dashboard.dir}`);
    }

    // 1. Infrastructure
    let t = Date.now();
    const pg = await startPostgres();
    stops.push(() => pg.stop());
    const emulator = createEmulator({ username: USERNAME, password: PASSWORD });
    const klarnaUrl = await emulator.listen(0);
    stops.push(() => emulator.close());
    const directory = path.join(ROOT, "store");
    /** @type {Record<string, string>} */
    const env = { KLARNA_BASE_URL: klarnaUrl, KLARNA_USERNAME: USERNAME, KLARNA_PASSWORD: PASSWORD };
    // store/medusa-config.js adds @medusajs/admin (serving this build at /app) and the plugin's
    // enableUI only when KLARNA_ADMIN_BUILD_DIR is set.
    if (dashboard) env.KLARNA_ADMIN_BUILD_DIR = dashboard.dir;
    Object.assign(process.env, env);
    await runMigrations({ directory, databaseUrl: pg.url, env });
    const log = console.log;
    console.log = (...a) => (String(a[0]).startsWith("[medusa-config]") ? undefined : log(...a));
    // @medusajs/admin's setup step reads medusa-config.js from the working folder during the boot.
    const cwd = process.cwd();
    process.chdir(directory);
    let medusa;
    try {
      medusa = await bootMedusa({ directory, databaseUrl: pg.url, silent: !VERBOSE });
    } finally {
      process.chdir(cwd);
      console.log = log;
    }
    stops.push(() => medusa.close());
    say(`1. Started PostgreSQL, ran Medusa's and the plugin's migrations, started the Klarna emulator`);
    say(`   (${klarnaUrl}) and the Medusa store (${medusa.url}) in ${((Date.now() - t) / 1000).toFixed(1)} s.`);

    // 2. Store
    const seed = await seedStore({ container: medusa.container, url: medusa.url, paymentProviders: ["klarna", "manual"] });
    const [small, large] = seed.variants;
    say(`2. Seeded a German store: region ${seed.region.name} (EUR, 19 % VAT) paying with Klarna;`);
    say(
      `   "${seed.product.title}" ${small.title} ${euro(2500)} / ${large.title} ${euro(3000)} (+ VAT), ` +
        `"${seed.shippingOption.name}" ${euro(500)}, return label "${seed.returnShippingOption.name}" ${euro(300)} (+ VAT).`,
    );

    const store = client(medusa.url, { headers: { "x-publishable-api-key": seed.publishableApiKey } });
    const admin = client(medusa.url, { token: seed.token });
    /** @returns {Promise<any[]>} */
    const journal = async () => (await client(klarnaUrl).get("/_emulator/journal")).data.entries;

    // 3. Shopper checks out with Klarna (2 × S, 1 × L)
    const { order, checkout } = await placeOrder({
      url: medusa.url,
      seed,
      provider: "klarna",
      emulatorUrl: klarnaUrl,
      email: "erika.mustermann@example.com",
    });
    const session = checkout.session.data;
    const sessionReq = (await journal()).find((e) => e.path === "/payments/v1/sessions").body;
    say(`3. Shopper: 2 × ${small.title}, 1 × ${large.title}, shipping → Klarna Payments session ${session.session_id}`);
    say(
      `   order_amount ${euro(sessionReq.order_amount)}, lines: ` +
        sessionReq.order_lines.map((/** @type {any} */ l) => `${l.quantity} × ${l.name} ${euro(l.total_amount)}`).join("; "),
    );
    say(`   Klarna's widget authorised the purchase → authorization_token ${checkout.auth.authorization_token}`);
    const klarnaOrderId = order.payments[0].data.order_id;
    say(
      `   Cart completed → Medusa order #${order.display_id} (${order.id}) ${euro(order.total)}, Klarna order ${klarnaOrderId} (fraud status ${order.payments[0].data.fraud_status})`,
    );

    // 4. Admin captures
    const captured = await capture({ url: medusa.url, token: seed.token }, order.id);
    const cap = (await journal()).find((e) => e.method === "POST" && e.path.endsWith("/captures"));
    say(
      `4. Admin captures → Klarna capture ${cap.response.headers["Capture-Id"]} of ${euro(cap.body.captured_amount)} ` +
        `(Medusa payment status: ${captured.payment_status})`,
    );

    // 5. Admin fulfils and ships everything (the dashboard receives returns of shipped items only)
    const shipped = await fulfillAndShip({ url: medusa.url, token: seed.token }, order.id);
    const units = shipped.fulfillment.items.reduce((/** @type {number} */ n, /** @type {any} */ i) => n + i.quantity, 0);
    say(
      `5. Admin fulfils the order (fulfillment ${shipped.fulfillment.id}, ${units} items) and ships it, ` +
        `tracking number ${shipped.trackingNumber} (Medusa fulfillment status: ${shipped.order.fulfillment_status})`,
    );

    // 6. Shopper returns one item with the paid return label
    const item = captured.items.find((/** @type {any} */ i) => i.variant_id === small.id);
    let { data } = await store.post("/store/returns", {
      order_id: order.id,
      items: [{ item_id: item.id, quantity: 1 }],
      return_shipping: { option_id: seed.returnShippingOption.id },
    });
    const ret = data.return;
    say(
      `6. Shopper returns 1 × ${item.title} (${item.variant.title}) with "${seed.returnShippingOption.name}" → return ${ret.id}, refund ${euro(ret.refund_amount)}`,
    );

    // 7. Admin receives it: Medusa refunds, the plugin refunds at Klarna
    const before = (await journal()).length;
    ({ data } = await admin.post(`/admin/returns/${ret.id}/receive`, { items: [{ item_id: item.id, quantity: 1 }] }));
    const refundCall = (await journal()).slice(before).find((e) => e.method === "POST" && e.path.endsWith("/refunds"));
    say(`7. Admin receives the return (status ${data.return.status}) → Medusa refunds ${euro(data.return.refund_amount)}; the plugin sent Klarna:`);
    say(`     POST ${refundCall.path}`);
    say(`     Klarna-Idempotency-Key: ${refundCall.idempotency_key}`);
    say(indent(JSON.stringify(refundCall.body, null, 2)));
    say(`   Klarna answered: ${refundCall.response.status} Created, Refund-Id ${refundCall.response.headers["Refund-Id"]}`);
    const [row] = await medusa.container
      .resolve("manager")
      .query(`SELECT id, intent, status, amount, idempotency_key, klarna_refund_id, source, attempts FROM klarna_refund WHERE resource_id = $1`, [
        ret.id,
      ]);
    say(`   Ledger row (table klarna_refund):`);
    say(indent(JSON.stringify(row, null, 2)));
    const metadata = await waitFor(
      async () => {
        const { data: r } = await admin.get(`/admin/returns?limit=50`);
        const found = r.returns.find((/** @type {any} */ x) => x.id === ret.id);
        return found && found.metadata && found.metadata.klarna;
      },
      { timeout: 10000 },
    );
    say(
      `   return.metadata.klarna (written after the commit): refund ${metadata.refund_id}, key ${metadata.idempotency_key}, ` +
        `return fee ${metadata.return_fee ? euro(metadata.return_fee.amount) : "none"}`,
    );
    const klarna = client(klarnaUrl, { headers: { authorization: "Basic " + Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64") } });
    const { data: k } = await klarna.get(`/ordermanagement/v1/orders/${klarnaOrderId}`);
    say(`   Klarna order now: captured ${euro(k.captured_amount)}, refunded ${euro(k.refunded_amount)}.`);

    // 8. (--admin) The dashboard: served, and a second return waiting to be received there
    /** @type {Record<string, unknown> | undefined} */
    let adminSummary;
    if (dashboard) {
      // Without a saved analytics preference the dashboard asks about it once, after the first login.
      await admin.post("/admin/analytics-configs", { opt_out: true, anonymize: true });
      const other = captured.items.find((/** @type {any} */ i) => i.variant_id === large.id);
      ({ data } = await store.post("/store/returns", {
        order_id: order.id,
        items: [{ item_id: other.id, quantity: 1 }],
        return_shipping: { option_id: seed.returnShippingOption.id },
      }));
      const waiting = data.return;
      const page = await client(medusa.url).send("GET", "/app/login");
      const served = page.status === 200 && /<div id="root">/.test(String(page.data));
      if (!served) throw new Error(`the admin dashboard is not served at ${medusa.url}/app/login (HTTP ${page.status})`);
      const { data: panel } = await admin.get(`/admin/klarna/orders/${order.id}`);
      const dashboardUrl = `${medusa.url}/app`;
      const orderUrl = `${dashboardUrl}/a/orders/${order.id}`;
      say(`8. Admin dashboard with the Klarna panel: ${dashboardUrl} (GET /app/login answered ${page.status}).`);
      say(
        `   The panel's data for order #${order.display_id}: Klarna ${panel.klarna.status}, ${panel.refunds.length} refund${panel.refunds.length === 1 ? "" : "s"}, ` +
          `${panel.agreement.agrees ? "Klarna and Medusa agree" : "Klarna and Medusa differ"}.`,
      );
      say(
        `   The shopper also returns 1 × ${other.title} (${other.variant.title}) → return ${waiting.id}, requested: ` +
          (KEEP
            ? `receive it in the dashboard (order #${order.display_id}, "Receive return") and the panel shows its Klarna refund.`
            : `with --keep it waits for you to receive it in the dashboard.`),
      );
      adminSummary = {
        dashboard_url: dashboardUrl,
        order_url: orderUrl,
        email: seed.email,
        password: seed.password,
        waiting_return_id: waiting.id,
        dashboard_build: dashboard,
      };
    }

    const result = {
      order_id: order.id,
      klarna_order_id: klarnaOrderId,
      return_id: ret.id,
      refund: {
        klarna_refund_id: refundCall.response.headers["Refund-Id"],
        idempotency_key: refundCall.idempotency_key,
        request: refundCall.body,
      },
      ...(adminSummary ? { admin: adminSummary } : {}),
    };
    if (KEEP) {
      say(`\nStill running (Ctrl-C stops everything):`);
      say(`  Medusa store   ${medusa.url}   (admin API: POST /admin/auth/token with ${seed.email} / ${seed.password})`);
      if (adminSummary) {
        say(`  Admin dashboard ${adminSummary.dashboard_url}   (log in as ${seed.email} / ${seed.password})`);
        say(`    order #${order.display_id}, its Klarna panel below Medusa's cards: ${adminSummary.order_url}`);
      }
      say(`  Klarna emulator ${klarnaUrl}   (API user ${USERNAME} / ${PASSWORD}; journal at /_emulator/journal)`);
      say(`  PostgreSQL     ${pg.url}`);
      if (JSON_OUT) console.log(JSON.stringify(result));
      await new Promise((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
    }
    await stopAll();
    say(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s; stopped everything it started.`);
    if (JSON_OUT && !KEEP) console.log(JSON.stringify(result));
  } catch (err) {
    console.error(`\ndemo failed: ${err instanceof Error && err.stack ? err.stack : err}`);
    await stopAll();
    process.exitCode = 1;
  }
}

main().then(() => process.exit(process.exitCode || 0));
