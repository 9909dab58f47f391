import { KlarnaApiError } from "../klarna/errors";
import { RefundPlanError } from "../klarna/refund-plan";

/**
 * The one error mapper: whatever went wrong becomes Medusa's `{ error, code, detail }`, all three
 * non-empty (Medusa only treats the object as an error when they are: payment-processor.js
 * `isPaymentProcessorError`). Medusa throws it as MedusaError(INVALID_DATA) → HTTP 400 with the
 * message `${error}:\n${detail}`.
 *
 * Two audiences. Admins (capture, refund, cancel) read Klarna's own words, its error code and
 * correlation id, and a hint only where it is true for the case. Shoppers (checkout) read what
 * happened and what to do, nothing internal: no codes, keys, hints about credentials.
 */
export interface KlarnaPaymentError {
  error: string;
  code: string;
  /** A short line after the message: references for admins, a reassurance for shoppers; never an object. */
  detail: string;
}

/** The message Medusa shows for a processor error (MedusaError's message: error, then detail). */
export function medusaMessage(out: KlarnaPaymentError): string {
  return `${out.error}:\n${out.detail}`;
}

/** What was being done, as a noun: "Klarna refused the refund". */
export type PaymentAction =
  | "payment session"
  | "purchase"
  | "capture"
  | "refund"
  | "cancellation"
  | "order lookup"
  | "authorisation extension"
  | "authorisation update"
  | "shipping info"
  /** A shopper confirming an order edit (the store's route): Klarna's authorisation update, in a shopper's words. */
  | "order change";

const SHOPPER_ACTIONS: ReadonlySet<PaymentAction> = new Set(["payment session", "purchase", "order change"]);

/** A refusal decided by the plugin itself (nothing was sent, or nothing more), with the admin's next step. */
export class KlarnaPluginRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** References for the detail line: Klarna refund id, idempotency key, ledger id. */
    readonly refs: Record<string, unknown> = {},
    /** What a shopper reads instead, for checkout refusals. */
    readonly shopperMessage?: string,
  ) {
    super(message);
    this.name = "KlarnaPluginRefusal";
  }
}

/** A refund whose outcome nobody knows: Klarna did not confirm it, and one look at its order settled nothing. */
export class RefundOutcomeUnknown extends Error {
  constructor(
    readonly cause: KlarnaApiError,
    /** What one look at Klarna's order showed. */
    readonly checked: "not_on_order" | "order_unavailable" | "not_checked",
    /** The refund in an admin's words: "return ret_…". */
    readonly label: string,
  ) {
    super(cause.message);
    this.name = "RefundOutcomeUnknown";
  }
}

function refundNotAllowedHint(messages: string): string {
  if (/no captures/i.test(messages)) return " Capture the order before refunding it.";
  if (/over refund/i.test(messages)) return " The amount is more than what is captured and not yet refunded at Klarna.";
  if (/return fee/i.test(messages)) {
    return " Klarna allows a return fee only on orders captured in one single full capture, in its return-fee markets. Set the return_fee_fallback option, or refund without a return shipping charge.";
  }
  return "";
}

function adminHint(e: KlarnaApiError, action: PaymentAction): string {
  const messages = e.error_messages.join(" ");
  if (action === "authorisation update") {
    // Refused before Medusa confirmed the order edit (api/middlewares.ts): nothing changed anywhere.
    return e.outcomeUnknown
      ? " The order edit was not confirmed. Try again in a moment."
      : " The order edit was not confirmed; Klarna's authorisation is unchanged. Keep the order as it is, or let the shopper pay the difference another way.";
  }
  if (e.outcomeUnknown) {
    return action === "refund"
      ? " It is safe to retry: the retry reuses the same idempotency key, so Klarna refunds at most once."
      : " Try again in a moment.";
  }
  switch (e.error_code) {
    case "UNAUTHORIZED":
      return " Check the plugin's Klarna username and password, and that they belong to this region and environment.";
    case "NO_SUCH_ORDER":
      return " The Klarna order does not exist for these credentials (wrong region or environment?).";
    case "REFUND_NOT_ALLOWED":
      return refundNotAllowedHint(messages);
    case "CAPTURE_NOT_ALLOWED":
      if (/expired/i.test(messages)) return " Klarna's authorisation has expired: ask the shopper to pay again.";
      return "";
    case "CANCEL_NOT_ALLOWED":
      return /captur/i.test(messages) ? " Refund the captured amount instead." : "";
    case "TOO_MANY_REQUESTS":
      return e.retry_after_s !== undefined ? ` Klarna asks to retry after ${e.retry_after_s} s.` : " Try again in a moment.";
    default:
      return "";
  }
}

function shopperMessage(e: KlarnaApiError, action: PaymentAction): string {
  if (action === "order change") {
    return e.outcomeUnknown
      ? "Klarna is not available right now. The change to your order was not made; please try again in a few minutes"
      : "Klarna could not approve the new amount of your order. The change was not made; your order stays as it was";
  }
  if (e.outcomeUnknown || e.error_code === "UNAUTHORIZED") {
    return "Klarna is not available right now. Please try again in a few minutes, or choose another payment method";
  }
  if (action === "purchase") {
    return "Klarna could not confirm this purchase. Please choose Klarna again to confirm it, or choose another payment method";
  }

  return "Klarna cannot be used for this cart right now. Please try again, or choose another payment method";
}

export function paymentError(action: PaymentAction, err: unknown, secrets: string[] = []): KlarnaPaymentError {
  const shopper = SHOPPER_ACTIONS.has(action);
  let out: KlarnaPaymentError;
  if (err instanceof RefundOutcomeUnknown) {
    const e = err.cause;
    const what = klarnaSentence(e);
    const checked =
      err.checked === "not_on_order"
        ? ` Klarna's order shows no refund for ${err.label} (checked just now).`
        : err.checked === "order_unavailable"
          ? " Klarna's order could not be read to check whether it refunded."
          : "";
    out = {
      error: sentence(`Klarna did not confirm the refund: ${what}${checked}${adminHint(e, "refund")}`),
      code: e.error_code,
      detail: adminDetail(e),
    };
  } else if (err instanceof KlarnaApiError) {
    if (shopper && err.error_code === "REJECTED") {
      // Klarna Payments refuses to place an order its risk check rejected (403 REJECTED).
      out = {
        error: "Klarna could not approve this purchase. Please choose another payment method",
        code: "FRAUD_REJECTED",
        detail: "No money was taken",
      };
    } else if (shopper) {
      out = { error: shopperMessage(err, action), code: err.error_code, detail: "No money was taken" };
    } else {
      const lead = err.outcomeUnknown ? `Klarna did not confirm the ${action}` : `Klarna refused the ${action}`;
      out = { error: sentence(`${lead}: ${klarnaSentence(err)}${adminHint(err, action)}`), code: err.error_code, detail: adminDetail(err) };
    }
  } else if (err instanceof KlarnaPluginRefusal) {
    const refs = Object.entries(err.refs)
      .filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    out = shopper
      ? { error: sentence(err.shopperMessage ?? err.message), code: err.code, detail: "No money was taken" }
      : { error: sentence(err.message), code: err.code, detail: refs || err.code };
  } else if (err instanceof RefundPlanError) {
    out = { error: sentence(`The Klarna refund could not be prepared: ${err.message}`), code: err.code, detail: `field ${err.field}` };
  } else if (shopper) {
    out = {
      error: "Klarna cannot be used for this cart right now. Please try again, or choose another payment method",
      code: "KLARNA_PLUGIN_ERROR",
      detail: "No money was taken",
    };
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

/** Klarna's own words, ending with a full stop. */
function klarnaSentence(e: KlarnaApiError): string {
  const what = e.error_messages.join(" ") || "no message";
  return /[.!?]$/.test(what) ? what : what + ".";
}

function adminDetail(e: KlarnaApiError): string {
  const refs = [e.error_code, e.correlation_id ? `correlation ${e.correlation_id}` : undefined].filter(Boolean).join(", ");
  return `Klarna ${refs}${e.status ? `, HTTP ${e.status}` : ""}${e.attempts && e.attempts > 1 ? `, ${e.attempts} attempts` : ""}`;
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
