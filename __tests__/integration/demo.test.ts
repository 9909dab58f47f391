import { spawnSync } from "child_process";
import * as path from "path";
import { sumTotals } from "../../src/klarna/order-lines";

/** `npm run demo` (the main job) tells the whole story, exits 0, and ends with the JSON summary. */
it("the demo refunds the returned item with a return_fee line and prints the summary", () => {
  const res = spawnSync(process.execPath, [path.resolve(__dirname, "../../scripts/demo.js"), "--json"], {
    encoding: "utf8",
    timeout: 170_000,
    env: { ...process.env, NODE_ENV: "development" },
  });
  expect(res.stderr).not.toMatch(/demo failed/);
  expect(res.status).toBe(0);
  const lines = res.stdout.trim().split("\n");
  for (const step of ["1. Started PostgreSQL", "3. Shopper:", "4. Admin captures", "5. Shopper returns", "6. Admin receives the return", "Done in"]) {
    expect(res.stdout).toContain(step);
  }
  const summary = JSON.parse(lines[lines.length - 1]);
  expect(summary).toMatchObject({ order_id: expect.stringMatching(/^order_/), return_id: expect.stringMatching(/^ret_/), klarna_order_id: expect.any(String) });
  expect(summary.refund.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);
  const request = summary.refund.request;
  expect(request.order_lines.map((l: any) => l.type)).toEqual(["physical", "return_fee"]);
  expect(sumTotals(request.order_lines)).toBe(request.refunded_amount);
  expect(res.stdout).not.toMatch(/127\.0\.0\.1 - - \[/); // no access-log noise
}, 180_000);
