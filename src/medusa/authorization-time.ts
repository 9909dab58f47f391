import { v4 as uuidv4 } from "uuid";
import type { KlarnaClient } from "../klarna/client";
import { KlarnaApiError } from "../klarna/errors";
import { JobLease } from "./job-lease";
import type { PaymentRecords } from "./payment-records";
import type { PluginDatabase } from "./plugin-db";
import type { KlarnaPaymentRow, StoreQueries } from "./store-queries";

/**
 * How long Klarna keeps an order capturable. Klarna's `expires_at` ("the order can only be captured
 * until this time"; 28 days after the purchase by default, KLARNA.md "Expiry") is kept in the
 * payment's data when the order is placed and after each extension. `POST
 * …/extend-authorization-time` moves it (Klarna: to the day of the call plus the account's expiry
 * days, at most 180 days after the purchase); an admin asks for it through the plugin's route, and a
 * job does it for every uncaptured order `auto_extend_days_before_expiry` days before it expires.
 */
export interface Extension {
  klarna_order_id: string;
  payment_id: string;
  previous_expires_at: string | null;
  expires_at: string;
}

export interface ExtensionRun {
  /** Another instance was running it: nothing was done now. */
  skipped?: boolean;
  checked: number;
  extended: Extension[];
  /** Klarna refused (an expired, cancelled or captured order, the 180-day limit): not asked again at this expiry. */
  refused: Array<{ klarna_order_id: string; payment_id: string; message: string }>;
  /** Klarna could not be asked (an outage): asked again on the next run. */
  failed: Array<{ klarna_order_id: string; payment_id: string; message: string }>;
}

const JOB = "klarna-authorization-extension";

export class AuthorizationTime {
  constructor(
    private readonly deps: {
      client: KlarnaClient;
      db: PluginDatabase;
      queries: StoreQueries;
      payments: PaymentRecords;
      log?: (message: string) => void;
    },
  ) {}

  /**
   * Extends the authorisation of the Klarna order of this payment and stores the new expiry in the
   * payment's data. Klarna answers 204 without a body: its order is read once for the new expiry.
   * A fresh key per call (an extension repeated is harmless: it moves the expiry to the same day);
   * retries of the call reuse it.
   */
  async extend(payment: Pick<KlarnaPaymentRow, "klarna_order_id" | "payment_id" | "expires_at">): Promise<Extension> {
    const { client, payments } = this.deps;
    await client.extendAuthorizationTime(payment.klarna_order_id, { idempotencyKey: uuidv4() });
    const order = await client.getOrder(payment.klarna_order_id);
    await payments.mergeData(payment.payment_id, {
      expires_at: order.expires_at,
      authorization_extended_at: new Date().toISOString(),
      authorization_extension_refused: null,
    });
    return {
      klarna_order_id: payment.klarna_order_id,
      payment_id: payment.payment_id,
      previous_expires_at: payment.expires_at,
      expires_at: order.expires_at,
    };
  }

  /**
   * The job: extends every uncaptured Klarna authorisation that expires within `days`. Runs of
   * several instances do not collide (a lease row, as the reconciler's); a run repeated extends
   * nothing twice (an extended order expires later than the window).
   */
  async extendExpiringWithin(days: number, limit = 500): Promise<ExtensionRun> {
    const { db, queries, client, payments } = this.deps;
    const lease = await JobLease.take(db, JOB);
    const run: ExtensionRun = { checked: 0, extended: [], refused: [], failed: [] };
    if (!lease) return { ...run, skipped: true };
    try {
      const due = await queries.authorizationsExpiringWithin(days, limit);
      const horizon = Date.now() + days * 24 * 3600_000;
      for (const payment of due) {
        run.checked += 1;
        try {
          if (!payment.expires_at) {
            // Placed before the plugin kept the expiry: learn it first.
            const order = await client.getOrder(payment.klarna_order_id);
            await payments.mergeData(payment.payment_id, { expires_at: order.expires_at });
            if (Date.parse(order.expires_at) >= horizon) continue;
            payment.expires_at = order.expires_at;
          }
          run.extended.push(await this.extend(payment));
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          if (err instanceof KlarnaApiError && !err.outcomeUnknown && err.status !== 401 && err.status !== 429) {
            // Klarna said no: remember it at this expiry, so the next runs do not ask again.
            await payments.mergeData(payment.payment_id, {
              authorization_extension_refused: {
                expires_at: payment.expires_at,
                message: err.error_messages.join(" ") || message,
                at: new Date().toISOString(),
              },
            });
            run.refused.push({ klarna_order_id: payment.klarna_order_id, payment_id: payment.payment_id, message });
          } else {
            run.failed.push({ klarna_order_id: payment.klarna_order_id, payment_id: payment.payment_id, message });
          }
          this.deps.log?.(
            `klarna: could not extend the authorisation of Klarna order ${payment.klarna_order_id} (payment ${payment.payment_id}): ${message}`,
          );
        }
      }
      await lease.completed();
      return run;
    } finally {
      await lease.release();
    }
  }
}
