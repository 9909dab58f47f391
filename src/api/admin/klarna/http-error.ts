import { MedusaError } from "@medusajs/utils";
import { KlarnaPaymentError, KlarnaPluginRefusal, medusaMessage } from "../../../medusa/payment-error";

/**
 * Medusa's error type for the plugin's admin routes: Medusa's error handler answers by its type and
 * keeps the message (not_allowed → 400, duplicate_error → 422, not_found → 404).
 */
export function notAllowed(message: string): MedusaError {
  return new MedusaError(MedusaError.Types.NOT_ALLOWED, message);
}
export function duplicate(message: string): MedusaError {
  return new MedusaError(MedusaError.Types.DUPLICATE_ERROR, message);
}
export function notFound(message: string): MedusaError {
  return new MedusaError(MedusaError.Types.NOT_FOUND, message);
}

/** A refund the plugin refused inside Medusa's refund (Medusa wraps it as invalid data): the admin's answer. */
export function asAdminError(err: unknown): unknown {
  if (err instanceof KlarnaPluginRefusal) return err.code === "ALREADY_REFUNDED" ? duplicate(err.message) : notAllowed(err.message);
  return err;
}

/** What the one error mapper made of a Klarna failure, as the admin's 400 (Medusa's message: error, then detail). */
export function klarnaRefused(out: KlarnaPaymentError): MedusaError {
  return notAllowed(medusaMessage(out));
}
