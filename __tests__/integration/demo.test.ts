import { spawn, spawnSync } from "child_process";
import * as path from "path";
import { sumTotals } from "../../src/klarna/order-lines";

const DEMO = path.resolve(__dirname, "../../scripts/demo.js");

/** `npm run demo` (the main job) tells the whole story, exits 0, and ends with the JSON summary. */
it("the demo refunds the returned item with a return_fee line and prints the summary", () => {
  const res = spawnSync(process.execPath, [DEMO, "--json"], {
    encoding: "utf8",
    timeout: 170_000,
    env: { ...process.env, NODE_ENV: "development" },
  });
  expect(res.stderr).not.toMatch(/demo failed/);
  expect(res.status).toBe(0);
  const lines = res.stdout.trim().split("\n");
  for (const step of [
    "1. Started PostgreSQL",
    "3. Shopper:",
    "4. Admin captures",
    "5. Admin fulfils the order",
    "6. Shopper returns",
    "7. Admin receives the return",
    "Done in",
  ]) {
    expect(res.stdout).toContain(step);
  }
  expect(res.stdout).toMatch(/and ships it, tracking number JJD\d+ \(Medusa fulfillment status: shipped\)/);
  expect(res.stdout).not.toContain("Admin dashboard"); // only with --admin
  const summary = JSON.parse(lines[lines.length - 1]);
  expect(summary).toMatchObject({
    order_id: expect.stringMatching(/^order_/),
    return_id: expect.stringMatching(/^ret_/),
    klarna_order_id: expect.any(String),
  });
  expect(summary.admin).toBeUndefined();
  expect(summary.refund.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);
  const request = summary.refund.request;
  expect(request.order_lines.map((l: any) => l.type)).toEqual(["physical", "return_fee"]);
  expect(sumTotals(request.order_lines)).toBe(request.refunded_amount);
  expect(res.stdout).not.toMatch(/127\.0\.0\.1 - - \[/); // no access-log noise
}, 180_000);

/**
 * `npm run demo -- --keep --admin`, as a newcomer uses it: the printed dashboard URL and login work
 * while it runs, the order is shipped and its second return waits to be received there, and Ctrl-C
 * stops everything. The dashboard build is cached by its inputs (the browser tests share it); a
 * fresh one takes about a minute here.
 */
it("with --keep --admin it serves Medusa's dashboard with the Klarna panel, prints its URL and login, and stops on Ctrl-C", async () => {
  const child = spawn(process.execPath, [DEMO, "--keep", "--admin", "--json"], {
    env: { ...process.env, NODE_ENV: "development" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  try {
    const summary = await new Promise<any>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        stdout += d;
        const json = stdout.split("\n").find((l) => l.startsWith("{"));
        if (json) resolve(JSON.parse(json));
      });
      void exited.then((code) => reject(new Error(`the demo exited (${code}) before its summary:\n${stdout}\n${stderr}`)));
    });
    const { admin } = summary;
    expect(admin).toMatchObject({
      dashboard_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/app$/),
      email: "admin@example.com",
      password: "supersecret",
    });
    expect(stdout).toContain(`Admin dashboard ${admin.dashboard_url}   (log in as admin@example.com / supersecret)`);
    expect(stdout).toContain(admin.order_url);
    expect(stdout).toMatch(
      /8\. Admin dashboard with the Klarna panel: .* \(GET \/app\/login answered 200\)\.\n {3}The panel's data for order #1: Klarna CAPTURED, 1 refund, Klarna and Medusa agree\./,
    );

    // The order page's URL serves the dashboard (a single-page app: index.html for every /app path).
    const page = await fetch(admin.order_url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root"></div>');

    // The printed login works, the order is shipped, and the second return waits to be received.
    const base = admin.dashboard_url.replace(/\/app$/, "");
    const token = (
      await (
        await fetch(`${base}/admin/auth/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: admin.email, password: admin.password }),
        })
      ).json()
    ).access_token;
    const auth = { authorization: `Bearer ${token}` };
    const { order } = await (await fetch(`${base}/admin/orders/${summary.order_id}`, { headers: auth })).json();
    expect(order.fulfillment_status).toBe("partially_returned"); // shipped, then one item returned
    expect(order.fulfillments[0].shipped_at).toEqual(expect.any(String));
    expect(order.fulfillments[0].tracking_links.map((l: any) => l.tracking_number)).toEqual([expect.stringMatching(/^JJD\d+$/)]);
    expect(order.returns.find((r: any) => r.id === admin.waiting_return_id).status).toBe("requested");
    const panel = await (await fetch(`${base}/admin/klarna/orders/${summary.order_id}`, { headers: auth })).json();
    expect(panel.agreement.agrees).toBe(true);
  } finally {
    child.kill("SIGINT");
  }
  expect(await exited).toBe(0);
  expect(stdout).toMatch(/Done in [\d.]+ s; stopped everything it started\./);
  expect(stderr).not.toMatch(/demo failed/);
}, 300_000);
