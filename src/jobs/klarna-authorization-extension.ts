import type { ScheduledJobArgs, ScheduledJobConfig } from "@medusajs/medusa";
import { PROCESSOR_KEY } from "../medusa/identifiers";
import type KlarnaPaymentProcessor from "../services/klarna";

/**
 * Extends every uncaptured Klarna authorisation `auto_extend_days_before_expiry` days before it
 * expires (medusa/authorization-time.ts); does nothing when the option is not set. Cron in the
 * environment variable KLARNA_AUTHORIZATION_EXTENSION_SCHEDULE, default hourly (a job's schedule is
 * read when the module loads, before the plugin's options exist). Medusa 1.20 registers a plugin's
 * jobs only when the store has Redis (`projectConfig.redis_url`); without it, call this handler from
 * code of your own, or extend single orders with POST /admin/klarna/orders/:id/extend-authorization.
 * Runs of several instances do not collide: a run holds a lease row while it works.
 */
export default async function klarnaAuthorizationExtension({ container }: ScheduledJobArgs): Promise<void> {
  const processor = container.resolve(PROCESSOR_KEY) as KlarnaPaymentProcessor;
  const plugin = processor.plugin();
  const days = plugin.options.auto_extend_days_before_expiry;
  if (!days) return;
  const run = await plugin.authorizationTime.extendExpiringWithin(days);
  if (run.refused.length || run.failed.length) {
    processor.warn(
      `klarna: authorisation extension: ${run.extended.length} extended, ${run.refused.length} refused by Klarna, ${run.failed.length} to retry on the next run.`,
    );
  }
}

export const config: ScheduledJobConfig = {
  name: "klarna-authorization-extension",
  schedule: process.env.KLARNA_AUTHORIZATION_EXTENSION_SCHEDULE || "20 * * * *",
  data: {},
};
