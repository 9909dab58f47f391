import { KlarnaApiError } from "../klarna/errors";
import { RefundPlanError } from "../klarna/refund-plan";
import { RefundConflictError } from "./refunds";

/**
 * The one error mapper: whatever went wrong becomes Medusa's `{ error, code, detail }`, all three
 * non-empty (Medusa only treats the object as an error when they are: payment-processor.js
 * `isPaymentProcessorError`), with a message an admin can act on. Medusa throws it as
 * MedusaError(INVALID_DATA) → HTTP 400 with `error` as the message.
 */
export interface KlarnaPaymentError {
  error: string;
  code: string;
  /**
   * Medusa appends it to the message (`${error}:\n${detail}`), so it is a short line of references
   * (Klarna's error code and correlation id), never an object ("[object Object]").
   */
  detail: string;
}

/** What was being done, as a noun: "Klarna refused the refund". */
export type PaymentAction = "payment session" | "order" | "capture" | "refund" | "cancellation" | "order lookup";

function hint(e: KlarnaApiError, action: PaymentAction): string {
  if (e.outcomeUnknown && action === "refund") {
    return " It is safe to retry: the retry reuses the same idempotency key, so Klarna refunds at most once.";
  }
  if (e.outcomeUnknown) return " Klarna did not answer in time or is unavailable; try again in a moment.";
  switch (e.error_code) {
    case "UNAUTHORIZED":
      return " Check the plugin's Klarna username and password, and that they belong to this region and environment.";
    case "NO_SUCH_ORDER":
      return " The Klarna order does not exist for these credentials (wrong region or environment?).";
    case "REFUND_NOT_ALLOWED":
      return /over refund/i.test(e.error_messages.join(" "))
        ? " The amount is more than what is captured and not yet refunded at Klarna."
        : /return fee/i.test(e.error_messages.join(" "))
          ? " Klarna allows a return fee only on orders captured in one single full capture, in its return-fee markets. Set the return_fee_fallback option, or refund without a return shipping charge."
          : " Capture the order at Klarna before refunding it.";
    case "CAPTURE_NOT_ALLOWED":
      return " The Klarna order cannot be captured in its current state (cancelled, expired, pending fraud review, or nothing left to capture).";
    case "CANCEL_NOT_ALLOWED":
      return " A captured Klarna order cannot be cancelled; refund it instead.";
    case "TOO_MANY_REQUESTS":
      return e.retry_after_s !== undefined ? ` Klarna asks to retry after ${e.retry_after_s} s.` : " Try again in a moment.";
    default:
      return "";
  }
}

export function paymentError(action: PaymentAction, err: unknown, secrets: string[] = []): KlarnaPaymentError {
  let out: KlarnaPaymentError;
  if (err instanceof KlarnaApiError) {
    const what = err.error_messages.join(" ") || "no message";
    const refs = [err.error_code, err.correlation_id ? `correlation ${err.correlation_id}` : undefined].filter(Boolean).join(", ");
    const lead = err.outcomeUnknown ? `Klarna did not confirm the ${action}` : `Klarna refused the ${action}`;
    out = {
      error: sentence(`${lead}: ${/[.!?]$/.test(what) ? what : what + "."}${hint(err, action)}`),
      code: err.error_code,
      detail: `Klarna ${refs}${err.status ? `, HTTP ${err.status}` : ""}${err.attempts && err.attempts > 1 ? `, ${err.attempts} attempts` : ""}`,
    };
  } else if (err instanceof RefundPlanError) {
    out = { error: sentence(`The Klarna refund could not be prepared: ${err.message}`), code: err.code, detail: `field ${err.field}` };
  } else if (err instanceof RefundConflictError) {
    const refs = Object.entries(err.detail)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    out = { error: sentence(err.message), code: err.code, detail: refs || err.code };
  } else {
    const message = err instanceof Error ? err.message : String(err);
    out = {
      error: sentence(`The Klarna ${action} failed in the plugin: ${message}`),
      code: "KLARNA_PLUGIN_ERROR",
      detail: err instanceof Error ? err.name : typeof err,
    };
  }
  return redact(out, secrets);
}

/** Medusa adds ":" and the detail after the message: end it without a full stop. */
function sentence(text: string): string {
  return text.trim().replace(/[.\s]+$/, "");
}

/** Removes any configured secret from what will be shown, logged or stored. */
export function redact<T>(value: T, secrets: string[]): T {
  const real = secrets.filter((s) => s && s.length >= 4);
  if (!real.length) return value;
  let text = JSON.stringify(value);
  for (const s of real) text = text.split(JSON.stringify(s).slice(1, -1)).join("********");
  return JSON.parse(text);
}
