import { json, NextFunction, Request, Response } from "express";
import { klarnaProcessor } from "../medusa/klarna-processor";
import { KlarnaPluginRefusal, medusaMessage } from "../medusa/payment-error";
import { currentRequestScope, finishScope, RequestContext, runWithRequestContext } from "../medusa/request-context";
import type KlarnaPaymentProcessor from "../services/klarna";

/**
 * Tells the processor which refund a `refundPayment` call belongs to. Medusa 1.20 applies a plugin's
 * middlewares before the core route of the same path; they run the rest of the request inside an
 * AsyncLocalStorage scope (medusa/request-context.ts) that the processor reads.
 *
 * A middleware-only matcher gets no body parser from Medusa, so the JSON body is parsed here
 * (body-parser marks the request, and the core route does not parse it again).
 */
const parseJson = json({ limit: "1mb" });
/** How long an answer waits for its refunds' outcome to be written (a lease release retries longer). */
const FINISH_BEFORE_ANSWER_MS = 3000;

type ContextOf = (req: Request, m: RegExpMatchArray) => RequestContext | undefined;

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}

const ROUTES: Array<{ matcher: string; pattern: RegExp; context: ContextOf }> = [
  {
    matcher: "/admin/returns/:id/receive",
    pattern: /^\/admin\/returns\/([^/?#]+)\/receive\/?(?:[?#].*)?$/,
    context: (req, m) => ({
      kind: "return",
      return_id: decodeURIComponent(m[1]),
      items: Array.isArray(req.body?.items)
        ? req.body.items
            .filter((i: unknown) => i && typeof (i as { item_id?: unknown }).item_id === "string")
            .map((i: { item_id: string; quantity: unknown }) => ({ item_id: i.item_id, quantity: Number(i.quantity) }))
        : undefined,
      refund: num(req.body?.refund),
    }),
  },
  {
    matcher: "/admin/orders/:id/capture",
    pattern: /^\/admin\/orders\/([^/?#]+)\/capture\/?(?:[?#].*)?$/,
    context: (_req, m) => ({ kind: "capture", order_id: decodeURIComponent(m[1]) }),
  },
  {
    matcher: "/admin/returns/:id/cancel",
    pattern: /^\/admin\/returns\/([^/?#]+)\/cancel\/?(?:[?#].*)?$/,
    context: (_req, m) => ({ kind: "return_cancel", return_id: decodeURIComponent(m[1]) }),
  },
  {
    matcher: "/admin/orders/:id/claims",
    pattern: /^\/admin\/orders\/([^/?#]+)\/claims\/?(?:[?#].*)?$/,
    context: (req, m) => ({ kind: "claim", order_id: decodeURIComponent(m[1]), idempotency_key: str(req.get("Idempotency-Key")) }),
  },
  {
    matcher: "/admin/orders/:id/swaps/:swap_id/process-payment",
    pattern: /^\/admin\/orders\/([^/?#]+)\/swaps\/([^/?#]+)\/process-payment\/?(?:[?#].*)?$/,
    context: (_req, m) => ({ kind: "swap", order_id: decodeURIComponent(m[1]), swap_id: decodeURIComponent(m[2]) }),
  },
  {
    matcher: "/admin/orders/:id/refund",
    pattern: /^\/admin\/orders\/([^/?#]+)\/refund\/?(?:[?#].*)?$/,
    context: (req, m) => ({ kind: "order_refund", order_id: decodeURIComponent(m[1]), reason: str(req.body?.reason), note: str(req.body?.note) }),
  },
  {
    matcher: "/admin/payments/:id/refund",
    pattern: /^\/admin\/payments\/([^/?#]+)\/refund\/?(?:[?#].*)?$/,
    context: (req, m) => ({ kind: "payment_refund", payment_id: decodeURIComponent(m[1]), reason: str(req.body?.reason), note: str(req.body?.note) }),
  },
];

function refundContextMiddleware(route: (typeof ROUTES)[number]) {
  return (req: Request, res: Response, next: NextFunction) => {
    parseJson(req, res, (err?: unknown) => {
      if (err) return next(err);
      const m = req.originalUrl.match(route.pattern);
      const context = m ? route.context(req, m) : undefined;
      if (!context) return next();
      if (context.kind === "return_cancel") return settleBeforeReturnCancel(req, res, next, context.return_id);
      const { scope } = runWithRequestContext(context, () => {
        if (context.kind === "capture") surfaceCaptureFailure(req, res, context.order_id, () => scope.failures);
        // The return's rows are committed: read them while Medusa works towards refundPayment.
        const current = currentRequestScope();
        if (context.kind === "return" && current) processorOf(req)?.plugin().intents.prefetchReturn(current, context.return_id, context.items);
        next();
      });
      // The scope ends (the refunds' outcome is written and the lease released) when Medusa's handler
      // answers: by then its transaction has committed or rolled back, and the status says which.
      // Medusa's handlers and its error handler answer with res.json: the end is written before the
      // answer goes out (for at most FINISH_BEFORE_ANSWER_MS), so whoever reads the ledger after the
      // answer sees it. Hooking the answer rather than the socket's "close" matters when the admin's
      // browser gives up early: the handler is still running.
      let finishing: Promise<void> | undefined;
      const finish = () => {
        if (!finishing) {
          clearTimeout(safety);
          finishing = finishScope(scope, { committed: res.statusCode < 400 });
        }
        return finishing;
      };
      const answer = res.json.bind(res);
      res.json = ((body?: unknown) => {
        if (finishing || res.headersSent) return answer(body);
        const cap = new Promise<void>((r) => setTimeout(r, FINISH_BEFORE_ANSWER_MS).unref());
        void Promise.race([finish(), cap]).finally(() => answer(body));
        return res;
      }) as typeof res.json;
      const end = res.end.bind(res) as (...a: unknown[]) => Response;
      res.end = ((...a: unknown[]) => {
        const out = end(...a);
        void finish();
        return out;
      }) as typeof res.end;
      res.once("finish", () => void finish());
      // A handler that never answers must not hold a lease forever (it lapses anyway once unrenewed).
      const safety = setTimeout(finish, 10 * 60_000);
      safety.unref();
    });
  };
}

function processorOf(req: Request): KlarnaPaymentProcessor | undefined {
  return klarnaProcessor((req as unknown as { scope: { resolve(name: string): unknown } }).scope);
}

/**
 * Cancelling a return whose refund Klarna may have made (its answer was lost, or Medusa rolled back)
 * would leave Klarna's money with no return to record it: settle it against Klarna's order first, and
 * refuse the cancel if Klarna refunded (the admin receives the return instead) or cannot tell.
 */
function settleBeforeReturnCancel(req: Request, res: Response, next: NextFunction, returnId: string): void {
  const processor = processorOf(req);
  if (!processor) return next();
  processor
    .plugin()
    .settleBeforeReturnCancel(returnId)
    .then(
      () => next(),
      (err) => {
        if (err instanceof KlarnaPluginRefusal) {
          res.status(400).json({ type: "not_allowed", code: err.code, message: err.message });
          return;
        }
        next(err);
      },
    );
}

/**
 * Medusa 1.20 catches a failed capture (OrderService.capturePayment), saves the order as
 * "requires_action" and answers 200: the admin never learns why, and the dashboard then shows no
 * capture button. When Klarna refused or failed the capture in this request, the order goes back to
 * "awaiting" (in a transaction of the plugin's own, after Medusa's has committed) and the answer is a
 * 400 with Klarna's message: the capture can simply be retried.
 */
function surfaceCaptureFailure(req: Request, res: Response, orderId: string, failures: () => Array<{ error: string; code: string; detail: string }>) {
  const json = res.json.bind(res);
  res.json = (body?: unknown) => {
    const failed = failures();
    if (res.statusCode >= 300 || !failed.length) return json(body);
    const f = failed[failed.length - 1];
    res.status(400);
    const answer = { type: "invalid_data", code: f.code, message: medusaMessage(f) };
    const scope = (req as unknown as { scope: { resolve(name: string): any } }).scope;
    Promise.resolve()
      .then(async () => {
        const manager = scope.resolve("manager");
        const orderRepository = scope.resolve("orderRepository");
        await manager.transaction(async (m: any) => {
          await m.withRepository(orderRepository).update({ id: orderId, payment_status: "requires_action" }, { payment_status: "awaiting" });
        });
      })
      .catch(() => undefined)
      .finally(() => json(answer));
    return res;
  };
}

/**
 * An order edit of an order paid with Klarna changes Klarna's authorisation before Medusa confirms it
 * (medusa/order-changes.ts): Klarna's refusal answers the confirm with a readable 400, and Medusa
 * never records an order Klarna does not authorise. Once Medusa's handler has answered, the payment's
 * amount follows (committed) or Klarna's authorisation goes back (rolled back).
 */
const ORDER_EDIT_CONFIRMS: Array<{ matcher: string; pattern: RegExp; action: "authorisation update" | "order change" }> = [
  { matcher: "/admin/order-edits/:id/confirm", pattern: /^\/admin\/order-edits\/([^/?#]+)\/confirm\/?(?:[?#].*)?$/, action: "authorisation update" },
  // The shopper confirms an edit the admin asked them to (Medusa's "request confirmation" flow).
  { matcher: "/store/order-edits/:id/complete", pattern: /^\/store\/order-edits\/([^/?#]+)\/complete\/?(?:[?#].*)?$/, action: "order change" },
];

function authorizationUpdateMiddleware(route: (typeof ORDER_EDIT_CONFIRMS)[number]) {
  return (req: Request, res: Response, next: NextFunction) => {
    const m = req.originalUrl.match(route.pattern);
    const processor = processorOf(req);
    if (!m || !processor) return next();
    const changes = processor.plugin().orderChanges;
    changes.beforeConfirm(decodeURIComponent(m[1]), route.action === "order change" ? "shopper" : "admin").then(
      (change) => {
        if (change) beforeAnswer(res, (committed) => changes.afterConfirm(change, committed));
        next();
      },
      (err) => {
        const out = processor.describeError(route.action, err);
        res.status(400).json({ type: "not_allowed", code: out.code, message: medusaMessage(out) });
      },
    );
  };
}

/**
 * Runs `fn` when Medusa's handler answers (its transaction has committed or rolled back by then:
 * committed when the status is below 400), and sends the answer after it, so the caller sees the
 * state `fn` leaves. Medusa's handlers and its error handler both answer with res.json.
 */
function beforeAnswer(res: Response, fn: (committed: boolean) => Promise<void>): void {
  const json = res.json.bind(res);
  let done = false;
  res.json = ((body?: unknown) => {
    if (done) return json(body);
    done = true;
    void fn(res.statusCode < 400).finally(() => json(body));
    return res;
  }) as typeof res.json;
}

export const config = {
  routes: [
    ...ROUTES.map((route) => ({
      matcher: route.matcher,
      method: "POST" as const,
      middlewares: [refundContextMiddleware(route)],
    })),
    ...ORDER_EDIT_CONFIRMS.map((route) => ({
      matcher: route.matcher,
      method: "POST" as const,
      middlewares: [authorizationUpdateMiddleware(route)],
    })),
  ],
};
