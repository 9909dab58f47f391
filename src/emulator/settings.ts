import { z } from "zod";

/**
 * The emulator's settings. Each one is a point Klarna does not publish exactly ("unconfirmed" in
 * KLARNA.md) or a knob of the environment; the plugin must work under every value.
 */
export const settingsSchema = z
  .object({
    /** Accepted HTTP Basic credentials. */
    username: z.string().min(1),
    password: z.string().min(1),
    /**
     * Line arithmetic for captures and refunds. Klarna validates it for orders and sessions; how
     * strictly it does for Order Management calls is unconfirmed. "strict" rejects like orders do.
     */
    om_line_arithmetic: z.enum(["strict", "lenient"]),
    /** Markets (purchase countries) where a `return_fee` line is allowed. */
    return_fee_markets: z.array(z.string().length(2).toUpperCase()),
    /** How a refund breaking a return-fee rule is refused (unconfirmed; 403 REFUND_NOT_ALLOWED likeliest). */
    return_fee_refusal: z.object({
      status: z.number().int().min(400).max(599),
      error_code: z.string().min(1),
    }),
    /** How long an idempotency key is remembered, in hours of the emulator's clock (Klarna: 24). */
    idempotency_ttl_hours: z.number().positive(),
    /** Whether a 4xx answer is stored under its key and replayed (unconfirmed). 5xx never is. */
    replay_failed_requests: z.boolean(),
    /** What a duplicate gets while the first request with its key is still being processed (unconfirmed). */
    in_flight_duplicate: z.enum(["wait", "conflict"]),
    /** Requests per second before 429 (0 = no limit). Klarna: 200 live, 50 playground. */
    rate_limit_per_second: z.number().int().min(0),
    /** Journal entries kept (oldest dropped first). */
    journal_limit: z.number().int().positive(),
    /**
     * Whether a `Klarna-Idempotency-Key` is remembered per merchant (one key, one answer, whatever the
     * call) or per operation (method + path + key). Unpublished: the spec says "only the key matters".
     */
    idempotency_key_scope: z.enum(["merchant", "operation"]),
    /**
     * Days an order stays capturable after the purchase (`expires_at`), and what an extension adds from
     * the day it is made. Klarna's default is 28; it is configured per merchant account (docs "Extend
     * order authorization time").
     */
    authorization_ttl_days: z.number().positive(),
    /** Latest `expires_at` an extension can reach, in days after the purchase (Klarna docs: 180). */
    authorization_max_days: z.number().positive(),
    /**
     * What a PART_CAPTURED order becomes when its authorisation expires (unconfirmed: Klarna documents
     * EXPIRED for orders "without fulfilment"). The remaining authorisation is released either way.
     */
    part_captured_expiry_status: z.enum(["CAPTURED", "EXPIRED", "CLOSED"]),
    /**
     * Klarna's risk check on `PATCH …/authorization` raising the order amount (spec: "Decision is based
     * on order state and outcome of risk assessment"). "refuse" answers 403 NOT_ALLOWED.
     */
    authorization_increase: z.enum(["accept", "refuse"]),
    /** The same risk check on `PATCH …/customer-details` (a new shipping address). */
    customer_details_update: z.enum(["accept", "refuse"]),
    /**
     * Minutes an authorization token can place an order (Klarna docs, "Create an order" errors: 404
     * NOT_FOUND "Invalid authorization token" when placed more than 60 minutes after authorization).
     */
    authorization_token_ttl_minutes: z.number().positive(),
    /**
     * Pending-order notifications (`merchant_urls.notification`): real-time waits before each retry,
     * in ms, after a try the merchant did not answer with 2xx. Klarna's own schedule is unpublished.
     */
    notification_retry_delays_ms: z.array(z.number().int().min(0)).max(20),
    /** Time a merchant has to answer one notification try, in ms. */
    notification_timeout_ms: z.number().int().positive(),
    /**
     * Options `GET …/captures/{id}/extend-due-date-options` offers (the fee is the merchant's, in minor
     * units; agreed per merchant account, unpublished).
     */
    due_date_extension_options: z.array(z.object({ number_of_days: z.number().int().positive(), amount: z.number().int().min(0) }).strict()),
  })
  .strict();

export type EmulatorSettings = z.infer<typeof settingsSchema>;

export const DEFAULT_SETTINGS: EmulatorSettings = {
  username: "emulator",
  password: "emulator-secret",
  om_line_arithmetic: "strict",
  return_fee_markets: ["AT", "DE", "DK", "FI", "FR", "NL", "NO", "SE"],
  return_fee_refusal: { status: 403, error_code: "REFUND_NOT_ALLOWED" },
  idempotency_ttl_hours: 24,
  replay_failed_requests: false,
  in_flight_duplicate: "wait",
  rate_limit_per_second: 0,
  journal_limit: 20000,
  idempotency_key_scope: "merchant",
  authorization_ttl_days: 28,
  authorization_max_days: 180,
  part_captured_expiry_status: "CAPTURED",
  authorization_increase: "accept",
  customer_details_update: "accept",
  authorization_token_ttl_minutes: 60,
  notification_retry_delays_ms: [1000, 5000, 30000],
  notification_timeout_ms: 5000,
  due_date_extension_options: [
    { number_of_days: 7, amount: 0 },
    { number_of_days: 14, amount: 0 },
    { number_of_days: 30, amount: 0 },
  ],
};

export const settingsPatchSchema = settingsSchema.partial();
