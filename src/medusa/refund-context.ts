import { AsyncLocalStorage } from "async_hooks";

/**
 * Which refund a `refundPayment(paymentData, amount)` call belongs to. Medusa tells the processor
 * nothing about it, so the plugin's middleware on the admin routes that refund (api/middlewares.ts)
 * stores it here for the duration of the request, and the processor reads it.
 */
export type RefundContext =
  | { kind: "return"; return_id: string; items?: Array<{ item_id: string; quantity: number }>; refund?: number }
  | { kind: "claim"; order_id: string }
  | { kind: "swap"; order_id: string; swap_id: string }
  | { kind: "order_refund"; order_id: string; reason?: string; note?: string }
  | { kind: "payment_refund"; payment_id: string; reason?: string; note?: string }
  | { kind: "fee_waiver"; return_id: string }
  /** Not a refund: Medusa swallows capture errors (order.capturePayment), the middleware surfaces them. */
  | { kind: "capture"; order_id: string };

export interface RequestScope {
  context: RefundContext;
  /** Run when the HTTP request is over (its transaction committed or rolled back). */
  onFinish: Array<() => void | Promise<void>>;
  /** What the refunds of this request did, for the routes and the mirror into return metadata. */
  refunds: Array<{ intent: string; klarna_refund_id?: string; idempotency_key: string }>;
  /** Errors the processor returned to Medusa during this request. */
  failures: Array<{ error: string; code: string; detail: string }>;
}

const storage = new AsyncLocalStorage<RequestScope>();

export function runWithRefundContext<T>(context: RefundContext, fn: () => T): { scope: RequestScope; result: T } {
  const scope: RequestScope = { context, onFinish: [], refunds: [], failures: [] };
  const result = storage.run(scope, fn);
  return { scope, result };
}

export function currentRefundScope(): RequestScope | undefined {
  return storage.getStore();
}

export async function finishScope(scope: RequestScope): Promise<void> {
  const tasks = scope.onFinish.splice(0);
  for (const task of tasks) {
    try {
      await task();
    } catch {
      // Releasing a lock must never break the response; the connection's end releases it anyway.
    }
  }
}
