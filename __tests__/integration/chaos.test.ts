import { spawnSync } from "child_process";
import * as path from "path";

/**
 * CI guards the money invariants per Klarna order: `npm run chaos -- --quick` with a fixed seed (two
 * Medusa instances; faults on ≥ 30 % of Klarna calls, 409s for duplicates in flight, rollbacks after
 * Klarna refunded, duplicate receives; kill -9 during the Klarna call and during Medusa's commit, a
 * PostgreSQL restart; cancel and re-return after unknown outcomes; concurrent give-backs; replayed
 * tokens; drifts the reconciler must find). Figures, not timings (the recovery bound is the issue's).
 */
it("chaos --quick: Klarna's books equal Medusa's on every Klarna order, whatever happened", () => {
  const res = spawnSync(process.execPath, [path.resolve(__dirname, "../../scripts/chaos.js"), "--quick", "--seed", "7", "--json"], {
    encoding: "utf8",
    timeout: 400_000,
    env: { ...process.env, NODE_ENV: "development" },
  });
  const lines = res.stdout.trim().split("\n");
  const result = JSON.parse(lines[lines.length - 1]);
  expect(result).toMatchObject({
    seed: 7,
    diverging_orders: 0,
    double_refunds: 0,
    unreceived_returns: 0,
    key_reuse_ratio: 1,
    cancels_allowed_after_klarna_refunded: 0,
    give_back_doubles: 0,
    token_replays_accepted: 0,
    reconciler_false_positives: 0,
    errors_5xx: 0,
    instance_crashes: 0,
    secrets_leaked: 0,
  });
  expect(result.drifts_found).toBe(result.drifts_injected);
  expect(result.drifts_injected).toBeGreaterThanOrEqual(4);
  expect(result.give_backs_accepted).toBeGreaterThan(0);
  expect(result.kills_in_klarna_call + result.kills_in_medusa_commit + result.postgres_restarts).toBeGreaterThanOrEqual(3);
  expect(result.recovery_s_p95).toBeLessThanOrEqual(20);
  expect(result.faulted_calls_ratio).toBeGreaterThanOrEqual(0.3);
  expect(result.injected_rollbacks).toBeGreaterThan(0);
  expect(result.duplicate_receives).toBeGreaterThan(0);
  expect(result.retries).toBeGreaterThan(0);
  expect(res.status).toBe(0);
}, 420_000);
