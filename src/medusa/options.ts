import { defaultCountries } from "@medusajs/utils";
import { z } from "zod";
import { DEFAULT_RETURN_FEE_MARKETS } from "../klarna/refund-plan";

/** ISO 3166-1 alpha-2 codes, from Medusa's own country list (the one its regions use). */
const ISO_COUNTRIES = new Set(defaultCountries.map((c: { alpha2: string }) => c.alpha2.toUpperCase()));

/**
 * The plugin's options (medusa-config.js `plugins: [{ resolve: "medusa-plugin-klarna", options }]`),
 * validated when Medusa boots. A bad option stops the store with a message naming every bad field;
 * no value is ever echoed (one of them is the API password).
 */
const url = z.string().superRefine((value, ctx) => {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: "Invalid url" });
    return;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") ctx.addIssue({ code: z.ZodIssueCode.custom, message: "must be an http(s) URL" });
});

export const optionsSchema = z
  .object({
    /** Klarna API credential UID (HTTP Basic username). */
    username: z.string().min(1, "required"),
    /** Klarna API key (HTTP Basic password). */
    password: z.string().min(1, "required"),
    region: z.enum(["eu", "na", "oc"]).default("eu"),
    environment: z.enum(["playground", "live"]).default("playground"),
    /** Overrides region/environment (the emulator, a proxy). */
    base_url: url.optional(),
    /** Per-attempt timeout of a Klarna call, ms. */
    timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
    /** Retries of a Klarna call after network errors, timeouts, 429 and 5xx. */
    retries: z.number().int().min(0).max(5).default(2),
    /** Base of the retry backoff, ms. */
    retry_base_delay_ms: z.number().int().min(0).max(10_000).default(300),
    /** Klarna locale (RFC 1766, e.g. "de-DE"); default: "en-" + the purchase country. */
    locale: z
      .string()
      .regex(/^[A-Za-z]{2}(-[A-Za-z]{2})+$/, "must look like de-DE")
      .optional(),
    merchant_urls: z
      .object({ confirmation: url.optional(), notification: url.optional(), push: url.optional(), authorization: url.optional() })
      .strict()
      .optional(),
    /** Markets where Klarna allows a `return_fee` line. */
    return_fee_markets: z
      .array(z.string().refine((c) => ISO_COUNTRIES.has(c.toUpperCase()), "must be an ISO 3166-1 alpha-2 country code (e.g. DE)"))
      .default(DEFAULT_RETURN_FEE_MARKETS),
    /** What to do with a return fee where Klarna allows none: a discount line, amount only, or refuse. */
    return_fee_fallback: z.enum(["discount_line", "amount_only", "reject"]).default("discount_line"),
    /**
     * How long a refund that finds the same return already refunded by another request waits for that
     * request to finish when it cannot tell (code paths without an HTTP request), ms.
     */
    concurrent_wait_ms: z.number().int().min(0).max(60_000).default(3000),
    /**
     * The store's public URL as Klarna reaches it (e.g. https://shop.example.com): Klarna's
     * pending-order notifications then go to `<backend_url>/store/klarna/notifications` unless
     * `merchant_urls.notification` says otherwise.
     */
    backend_url: url.optional(),
    /**
     * Extend every uncaptured Klarna authorisation this many days before it expires (a Medusa job,
     * registered where the store has Redis). Off when unset.
     */
    auto_extend_days_before_expiry: z.number().int().min(1).max(179).optional(),
    /** Read by the store's admin build (@medusajs/admin): true includes the plugin's Klarna panel in the dashboard. */
    enableUI: z.boolean().optional(),
  })
  .strict();

export type KlarnaPluginOptions = z.infer<typeof optionsSchema>;
export type KlarnaPluginOptionsInput = z.input<typeof optionsSchema>;

export class KlarnaOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`medusa-plugin-klarna: invalid plugin options in medusa-config.js:\n  - ${problems.join("\n  - ")}`);
    this.name = "KlarnaOptionsError";
  }
}

export function parseOptions(raw: unknown): KlarnaPluginOptions {
  const result = optionsSchema.safeParse(raw ?? {});
  if (result.success) {
    const opts = result.data;
    if (opts.environment === "live" && opts.base_url && !opts.base_url.startsWith("https://")) {
      throw new KlarnaOptionsError(["base_url: must use https when environment is live"]);
    }
    if (opts.base_url && /^[a-z]+:\/\/[^/]*@/i.test(opts.base_url)) {
      throw new KlarnaOptionsError(["base_url: must not contain credentials; use username and password"]);
    }
    return { ...opts, return_fee_markets: opts.return_fee_markets.map((m) => m.toUpperCase()) };
  }
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.join(".") || "(options)";
    if (issue.code === "unrecognized_keys") return `${field}: unknown option(s) ${issue.keys.join(", ")}`;
    if (issue.code === "invalid_type" && issue.received === "undefined") return `${field}: required`;
    // zod messages never contain the value, except for enums, which name the allowed values only.
    return `${field}: ${issue.message}`;
  });
  throw new KlarnaOptionsError(problems);
}
