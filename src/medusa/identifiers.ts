/** The payment provider id a store enables on regions (Medusa registers the processor as `pp_klarna`). */
export const PROVIDER_ID = "klarna";
/** The processor's name in Medusa's container. */
export const PROCESSOR_KEY = `pp_${PROVIDER_ID}`;
/** Namespace of idempotency keys derived from Klarna ids (placing an order, capturing): a retry derives the same key. */
export const KEY_NAMESPACE = "6f1c3a52-9d1e-4b8e-8a43-2f0e6f4d5b17";
/** The plugin's store route Klarna's pending-order notifications are sent to (merchant_urls.notification). */
export const NOTIFICATION_PATH = "/store/klarna/notifications";
/** The note of the Medusa refund recording a return fee given back (the waive-return-fee route). */
export const FEE_WAIVER_NOTE = (returnId: string) => `Klarna return fee of return ${returnId} refunded`;
/** The note of the Medusa refund recording a Klarna refund made earlier (adopt-refund). */
export const ADOPTION_NOTE = (klarnaRefundId: string) => `Klarna refund ${klarnaRefundId} recorded (made at Klarna earlier)`;
