import type { ScheduledJobArgs, ScheduledJobConfig } from "@medusajs/medusa";
import { PROCESSOR_KEY } from "../medusa/identifiers";
import type KlarnaPaymentProcessor from "../services/klarna";

/**
 * Reconciles Klarna's orders with Medusa's books on a schedule (cron in the environment variable
 * KLARNA_RECONCILIATION_SCHEDULE, default every 15 minutes: a job's schedule is read when the module
 * loads, before the plugin's options exist). Medusa 1.20 registers a plugin's jobs only when the store has Redis
 * (`projectConfig.redis_url`); without it, GET /admin/klarna/reconciliation runs the same on demand.
 * Runs of several instances do not collide: the reconciler holds a lease while it runs.
 */
export default async function klarnaReconciliation({ container }: ScheduledJobArgs): Promise<void> {
  const processor = container.resolve(PROCESSOR_KEY) as KlarnaPaymentProcessor;
  const run = await processor.plugin().reconciler.run();
  if (run.differing) {
    const logger = container.resolve("logger") as { warn(m: string): void };
    logger.warn(
      `klarna: reconciliation found ${run.differing} Klarna order(s) whose totals differ from Medusa's books: GET /admin/klarna/reconciliation for details.`,
    );
  }
}

export const config: ScheduledJobConfig = {
  name: "klarna-reconciliation",
  schedule: process.env.KLARNA_RECONCILIATION_SCHEDULE || "*/15 * * * *",
  data: {},
};
