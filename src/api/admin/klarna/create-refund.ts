import { finishScope, runWithRequestContext, type RequestContext } from "../../../medusa/request-context";
import { asAdminError, duplicate } from "./http-error";

/**
 * Creates a Medusa refund for one of the plugin's admin routes: in a transaction of the request's own
 * (Medusa 1.x's services are singletons that otherwise share one transaction between concurrent
 * requests), with the plugin told what the refund is for. When a concurrent request recording the same
 * money won, the plugin refused this one before anything was sent: the admin gets 422 `whenDuplicate`.
 */
export async function createRefundInOwnTransaction(
  scope: { resolve: (name: string) => unknown },
  context: RequestContext,
  refund: { orderId: string; amount: number; note: string },
  whenDuplicate: string,
): Promise<void> {
  const manager = scope.resolve("manager") as any;
  const orderService = scope.resolve("orderService") as any;
  const run = runWithRequestContext(context, () =>
    manager.transaction((m: any) => orderService.withTransaction(m).createRefund(refund.orderId, refund.amount, "other", refund.note)),
  );
  let committed = false;
  try {
    await run.result;
    committed = true;
  } catch (err) {
    if (run.scope.failures.some((f) => f.code === "ALREADY_REFUNDED")) throw duplicate(whenDuplicate);
    throw asAdminError(err);
  } finally {
    await finishScope(run.scope, { committed });
  }
}
