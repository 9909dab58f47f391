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
};

export const settingsPatchSchema = settingsSchema.partial();
