import { spawnSync } from "child_process";
import * as path from "path";

/**
 * CI guards the money invariants: `npm run chaos -- --quick` with a fixed seed (two Medusa instances,
 * faults on ≥ 30 % of Klarna calls, rollbacks after Klarna refunded, duplicate receives). Figures, not timings.
 */
it("chaos --quick: no double or lost refund, keys reused, totals equal, no 5xx, no secret leaked", () => {
  const res = spawnSync(process.execPath, [path.resolve(__dirname, "../../scripts/chaos.js"), "--quick", "--seed", "7", "--json"], {
    encoding: "utf8",
    timeout: 280_000,
    env: { ...process.env, NODE_ENV: "development" },
  });
  const lines = res.stdout.trim().split("\n");
  const result = JSON.parse(lines[lines.length - 1]);
  expect(result).toMatchObject({
    seed: 7,
    double_refunds: 0,
    lost_refunds: 0,
    unreceived_returns: 0,
    key_reuse_ratio: 1,
    klarna_total_eq_medusa_total: true,
    errors_5xx: 0,
    secrets_leaked: 0,
  });
  expect(result.faulted_calls_ratio).toBeGreaterThanOrEqual(0.3);
  expect(result.injected_rollbacks).toBeGreaterThan(0);
  expect(result.duplicate_receives).toBeGreaterThan(0);
  expect(result.retries).toBeGreaterThan(0);
  expect(res.status).toBe(0);
}, 300_000);
