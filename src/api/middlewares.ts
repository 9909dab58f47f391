import { json, NextFunction, Request, Response } from "express";
import { finishScope, RefundContext, runWithRefundContext } from "../medusa/refund-context";

/**
 * Tells the processor which refund a `refundPayment` call belongs to. Medusa 1.20 applies a plugin's
 * middlewares before the core route of the same path; they run the rest of the request inside an
 * AsyncLocalStorage scope (medusa/refund-context.ts) that the processor reads.
 *
 * A middleware-only matcher gets no body parser from Medusa, so the JSON body is parsed here
 * (body-parser marks the request, and the core route does not parse it again).
 */
const parseJson = json({ limit: "1mb" });

type ContextOf = (req: Request, m: RegExpMatchArray) => RefundContext | undefined;

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
    matcher: "/admin/orders/:id/claims",
    pattern: /^\/admin\/orders\/([^/?#]+)\/claims\/?(?:[?#].*)?$/,
    context: (_req, m) => ({ kind: "claim", order_id: decodeURIComponent(m[1]) }),
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
      const { scope } = runWithRefundContext(context, () => {
        if (context.kind === "capture") surfaceCaptureFailure(res, () => scope.failures);
        next();
      });
      // The scope ends (its ledger locks are released) when Medusa's handler answers: by then its
      // transaction has committed or rolled back. Hooking res.end rather than the socket's "close"
      // matters when the admin's browser gives up early: the handler is still running then.
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(safety);
        void finishScope(scope);
      };
      const end = res.end.bind(res) as (...a: unknown[]) => Response;
      res.end = ((...a: unknown[]) => {
        const out = end(...a);
        finish();
        return out;
      }) as typeof res.end;
      res.once("finish", finish);
      // A handler that never answers must not hold a lock forever.
      const safety = setTimeout(finish, 10 * 60_000);
      safety.unref();
    });
  };
}

/**
 * Medusa 1.20 catches a failed capture (OrderService.capturePayment), saves the order as
 * "requires_action" and answers 200: the admin never learns why. When Klarna refused or failed the
 * capture in this request, answer 400 with Klarna's message instead (the order stays uncaptured and
 * the capture can be retried).
 */
function surfaceCaptureFailure(res: Response, failures: () => Array<{ error: string; code: string; detail: string }>) {
  const json = res.json.bind(res);
  res.json = (body?: unknown) => {
    const failed = failures();
    if (res.statusCode < 300 && failed.length) {
      const f = failed[failed.length - 1];
      res.status(400);
      return json({ type: "invalid_data", code: f.code, message: `${f.error}:\n${f.detail}` });
    }
    return json(body);
  };
}

export const config = {
  routes: ROUTES.map((route) => ({
    matcher: route.matcher,
    method: "POST" as const,
    middlewares: [refundContextMiddleware(route)],
  })),
};
