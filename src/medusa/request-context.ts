import { AsyncLocalStorage } from "async_hooks";

/**
 * What the admin request in progress is about: which refund a `refundPayment(paymentData, amount)`
 * call belongs to (Medusa tells the processor nothing about it), or a capture or a return's cancel
 * the plugin guards. The plugin's middleware on those admin routes (api/middlewares.ts) stores it
 * here for the duration of the request, and the processor reads it.
 */
export type RequestContext =
  | { kind: "return"; return_id: string; items?: Array<{ item_id: string; quantity: number }>; refund?: number }
  /** `idempotency_key`: the request's Idempotency-Key header: a retry names the claim it resumes. */
  | { kind: "claim"; order_id: string; idempotency_key?: string }
  | { kind: "swap"; order_id: string; swap_id: string }
  | { kind: "order_refund"; order_id: string; reason?: string; note?: string }
  | { kind: "payment_refund"; payment_id: string; reason?: string; note?: string }
  | { kind: "fee_waiver"; return_id: string }
  /** Records in Medusa a refund Klarna already made (admin route adopt-refund): nothing is sent. */
  | { kind: "adoption"; order_id: string; klarna_refund_id: string }
  /** Not a refund: Medusa swallows capture errors (order.capturePayment), the middleware surfaces them. */
  | { kind: "capture"; order_id: string }
  /** Not a refund: cancelling a return first settles its refund against Klarna's order. */
  | { kind: "return_cancel"; return_id: string };

/** How the request that held the scope ended: whether Medusa committed what it did. */
export interface ScopeOutcome {
  committed: boolean;
}

export interface RequestScope {
  context: RequestContext;
  /** Run when the HTTP request is over (its transaction committed or rolled back). */
  onFinish: Array<(outcome: ScopeOutcome) => void | Promise<void>>;
  /** Ledger entries this request settled with Klarna: Medusa records them if the request commits. */
  entries: Set<string>;
  /** Leases this request holds, per Klarna order (a request may refund one order more than once). */
  leases: Map<string, unknown>;
  /** Errors the processor returned to Medusa during this request. */
  failures: Array<{ error: string; code: string; detail: string }>;
  /** Reads started when the request arrived, for the refund to await instead of making (by key). */
  prefetched: Map<string, Promise<unknown>>;
}

const storage = new AsyncLocalStorage<RequestScope>();

export function runWithRequestContext<T>(context: RequestContext, fn: () => T): { scope: RequestScope; result: T } {
  const scope: RequestScope = { context, onFinish: [], entries: new Set(), leases: new Map(), failures: [], prefetched: new Map() };
  const result = storage.run(scope, fn);
  return { scope, result };
}

export function currentRequestScope(): RequestScope | undefined {
  return storage.getStore();
}

/** Ends a scope: records what Medusa committed and releases the request's leases. Never throws. */
export async function finishScope(scope: RequestScope, outcome: ScopeOutcome): Promise<void> {
  const tasks = scope.onFinish.splice(0);
  for (const task of tasks) {
    try {
      await task(outcome);
    } catch {
      // Releasing a lease must never break the response; an unreleased lease lapses on its own.
    }
  }
}
