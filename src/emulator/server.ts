import { timingSafeEqual } from "crypto";
import express, { NextFunction, Request, Response } from "express";
import type { Server } from "http";
import type { AddressInfo } from "net";
import { v4 as uuidv4 } from "uuid";
import { z } from "zod";
import { fillPlaceholders, type NotificationEvent } from "./notifications";
import { sessionBody, KlarnaRefusal, parseBody, checkSessionAmounts } from "./rules";
import { captureRoutes } from "./resources/captures";
import { orderRoutes } from "./resources/orders";
import { authorizeSession, paymentRoutes } from "./resources/payments";
import { refundRoutes } from "./resources/refunds";
import type { Route } from "./resources/route";
import { EmulatorSettings, settingsPatchSchema } from "./settings";
import { Answer, EmulatorState, Fault, FaultSpec } from "./state";

export const KLARNA_ROUTES: Route[] = [...paymentRoutes, ...orderRoutes, ...captureRoutes, ...refundRoutes];

/**
 * How the control endpoints (`/_emulator/*`) are protected. They have no auth of their own and can
 * rewrite any order, so by default they answer only requests that arrive on a loopback address, and
 * `listen()` refuses any other address. Serving them to other machines takes both an explicit
 * `allowRemoteControl` and a `controlToken`, which every control request must then carry as
 * `Authorization: Bearer <token>` (also on loopback).
 */
export interface EmulatorOptions {
  allowRemoteControl?: boolean;
  /** At least 16 characters. */
  controlToken?: string;
}

export const MIN_CONTROL_TOKEN_LENGTH = 16;

export interface KlarnaEmulator {
  app: express.Express;
  state: EmulatorState;
  /**
   * Starts listening (host defaults to 127.0.0.1, port 0 = any free port); resolves to the base URL.
   * Rejects a non-loopback host unless the emulator was created with `allowRemoteControl` and a
   * `controlToken` (see `EmulatorOptions`).
   */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  url?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function errorAnswer(status: number, error_code: string, error_messages: string[], headers?: Record<string, string>): Answer {
  return { status, headers, body: { error_code, error_messages, correlation_id: uuidv4() } };
}

function refusalAnswer(err: unknown): Answer {
  if (err instanceof KlarnaRefusal) return errorAnswer(err.status, err.error_code, err.error_messages);
  return errorAnswer(500, "INTERNAL_SERVER_ERROR", ["Unexpected server error"]);
}

/** Answers Klarna gives for injected statuses, by status. */
function faultAnswer(fault: Fault): Answer {
  const status = fault.status as number;
  const code =
    fault.error_code ??
    (status === 429 ? "TOO_MANY_REQUESTS" : status >= 502 ? "TEMPORARILY_UNAVAILABLE" : status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_VALUE");
  const messages = fault.error_messages ?? [
    status === 429 ? "Too many requests" : status >= 502 ? "Temporarily unavailable" : status >= 500 ? "Unexpected server error" : "Bad value",
  ];
  const headers = fault.retry_after !== undefined ? { "Retry-After": String(fault.retry_after) } : undefined;
  return errorAnswer(status, code, messages, headers);
}

function write(res: Response, answer: Answer): void {
  res.status(answer.status);
  for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
  if (answer.body === undefined) {
    res.end();
  } else if (typeof answer.body === "string") {
    res.type("text/plain").send(answer.body);
  } else {
    res.json(answer.body);
  }
}

function drop(res: Response): void {
  res.socket?.destroy();
}

function authorized(req: Request, settings: EmulatorSettings): boolean {
  const header = req.headers.authorization ?? "";
  if (!header.startsWith("Basic ")) return false;
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  const i = decoded.indexOf(":");
  return i > 0 && decoded.slice(0, i) === settings.username && decoded.slice(i + 1) === settings.password;
}

/**
 * Runs one Klarna API request through what sits in front of every route at Klarna: authentication,
 * rate limiting, idempotency (per key, body ignored, replayed for the TTL), and the injected faults.
 */
function dispatch(state: EmulatorState, route: Route) {
  return async (req: Request, res: Response) => {
    const started = Date.now();
    const method = req.method.toUpperCase();
    const path = req.path;
    const key = (req.headers["klarna-idempotency-key"] as string | undefined) || undefined;
    // Where a key is remembered: per merchant (the key alone) or per operation (method + path + key).
    const slot = key && state.settings.idempotency_key_scope === "operation" ? `${method} ${path} ${key}` : key;
    const body = method === "GET" || method === "DELETE" ? undefined : req.body;
    const journal = (outcome: "answered" | "replayed" | "fault" | "dropped_before" | "dropped_after", response: Answer | null, fault?: Fault) =>
      state.record({
        method,
        path,
        idempotency_key: key,
        user_agent: req.headers["user-agent"],
        body,
        response,
        outcome,
        fault_id: fault?.fault_id,
        duration_ms: Date.now() - started,
      });

    const fault = state.takeFault(method, path);
    if (fault?.drop === "before") {
      if (fault.delay_ms) await sleep(fault.delay_ms);
      journal("dropped_before", null, fault);
      return drop(res);
    }
    if (fault?.status) {
      if (fault.delay_ms) await sleep(fault.delay_ms);
      const answer = faultAnswer(fault);
      journal("fault", answer, fault);
      return write(res, answer);
    }
    if (!authorized(req, state.settings)) {
      // Klarna's 401 is not JSON (KLARNA.md, "Base URLs and auth").
      const answer: Answer = { status: 401, body: "401 Authorization Required" };
      journal("answered", answer, fault);
      return write(res, answer);
    }
    if (state.overRateLimit()) {
      const answer = errorAnswer(429, "TOO_MANY_REQUESTS", ["Too many requests"], { "Retry-After": "1" });
      journal("answered", answer, fault);
      return write(res, answer);
    }

    const writes = method === "POST" || method === "PATCH";
    let answer: Answer | null | undefined;
    let outcome: "answered" | "replayed" = "answered";
    if (writes && slot) {
      const stored = state.storedAnswer(slot);
      const pending = state.inFlight.get(slot);
      if (stored) {
        answer = stored;
        outcome = "replayed";
      } else if (pending) {
        if (state.settings.in_flight_duplicate === "conflict") {
          answer = errorAnswer(409, "CONFLICT", ["A request with this idempotency key is already being processed."]);
        } else {
          await pending;
          answer = state.storedAnswer(slot);
          if (answer) outcome = "replayed";
        }
      }
    }
    if (!answer) {
      const run = async (): Promise<Answer> => {
        if (fault?.delay_ms) await sleep(fault.delay_ms);
        let result: Answer;
        try {
          result = route.handler({ state, params: req.params, body: req.body, origin: `${req.protocol}://${req.get("host")}` });
        } catch (err) {
          result = refusalAnswer(err);
        }
        if (writes && slot) state.remember(slot, result);
        return result;
      };
      if (writes && slot) {
        const p = run();
        state.inFlight.set(slot, p);
        try {
          answer = await p;
        } finally {
          state.inFlight.delete(slot);
        }
      } else {
        answer = await run();
      }
    }
    if (fault?.drop === "after") {
      journal("dropped_after", answer, fault);
      return drop(res);
    }
    if (fault?.omit_headers?.length && answer.headers) {
      const omit = new Set(fault.omit_headers.map((h) => h.toLowerCase()));
      answer = { ...answer, headers: Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !omit.has(k.toLowerCase()))) };
      journal("fault", answer, fault);
      return write(res, answer);
    }
    journal(outcome, answer, fault);
    write(res, answer);
  };
}

const faultSchema = z
  .object({
    method: z.enum(["GET", "POST", "PATCH", "DELETE"]).optional(),
    path: z.string().startsWith("/"),
    times: z.number().int().positive().default(1),
    delay_ms: z.number().int().min(0).optional(),
    status: z.number().int().min(400).max(599).optional(),
    error_code: z.string().optional(),
    error_messages: z.array(z.string()).optional(),
    retry_after: z.number().int().min(0).optional(),
    drop: z.enum(["before", "after"]).optional(),
    omit_headers: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict()
  .refine((f) => f.delay_ms !== undefined || f.status !== undefined || f.drop !== undefined || f.omit_headers !== undefined, {
    message: "a fault needs delay_ms, status, drop or omit_headers",
  })
  .refine((f) => !(f.status !== undefined && f.drop !== undefined), { message: "status and drop exclude each other" });

const controlOrderSchema = sessionBody.and(
  z.object({
    captured: z.union([z.boolean(), z.array(z.number().int().positive())]).optional(),
    fraud_status: z.enum(["ACCEPTED", "PENDING", "REJECTED"]).optional(),
  }),
);

/** True for an address or host name that only this machine can reach. */
export function isLoopback(host: string | undefined): boolean {
  if (!host) return false;
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!m) return false;
  const given = Buffer.from(m[1].trim());
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * Issue 8: the control endpoints can create, decide and reset anything. A request that arrives on a
 * non-loopback local address is refused unless remote control was allowed with a token; with a
 * token, every control request needs `Authorization: Bearer <token>`.
 */
function controlGuard(options: EmulatorOptions) {
  return (req: Request, res: Response, next: NextFunction) => {
    const token = options.controlToken;
    if (!isLoopback(req.socket.localAddress) && !(options.allowRemoteControl && token)) {
      return res.status(403).json({
        error: "The emulator's control endpoints answer on loopback only; start it with --allow-remote-control and --control-token to expose them.",
      });
    }
    if (token && !tokenMatches(req.headers.authorization, token)) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="klarna-emulator-control"');
      return res.status(401).json({ error: "The control endpoints need the header 'Authorization: Bearer <control token>'." });
    }
    next();
  };
}

const FRAUD_EVENTS: Record<"ACCEPTED" | "REJECTED" | "STOPPED", NotificationEvent> = {
  ACCEPTED: "FRAUD_RISK_ACCEPTED",
  REJECTED: "FRAUD_RISK_REJECTED",
  STOPPED: "FRAUD_RISK_STOPPED",
};

/** `/_emulator/*`: what a test or a developer needs to drive the emulator (guarded, see `controlGuard`). */
function controlRouter(state: EmulatorState, options: EmulatorOptions): express.Router {
  const r = express.Router();
  r.use(controlGuard(options));
  const bad = (res: Response, message: string) => res.status(400).json({ error: message });
  const zodMessage = (e: z.ZodError) => e.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");

  r.get("/health", (_req, res) => res.json({ ok: true }));

  r.post("/orders", (req, res) => {
    const input = { order_amount: undefined as unknown, ...req.body };
    if (input.order_amount === undefined && Array.isArray(input.order_lines)) {
      input.order_amount = input.order_lines.reduce((s: number, l: { total_amount?: number }) => s + (l.total_amount ?? 0), 0);
    }
    try {
      const parsed = parseBody(controlOrderSchema, input);
      checkSessionAmounts(parsed);
      const order = state.createOrder(parsed);
      if (parsed.captured === true) {
        state.addCapture(order, { captured_amount: order.order_amount, order_lines: order.order_lines });
      } else if (Array.isArray(parsed.captured)) {
        const total = parsed.captured.reduce((a, b) => a + b, 0);
        if (total > order.order_amount) return bad(res, `captures add up to ${total}, more than order_amount ${order.order_amount}`);
        for (const amount of parsed.captured) state.addCapture(order, { captured_amount: amount });
      }
      res.status(201).json({ order_id: order.order_id });
    } catch (err) {
      if (err instanceof KlarnaRefusal) return bad(res, err.message);
      throw err;
    }
  });

  // Klarna's fraud review deciding an order (docs "Pending orders"): ACCEPTED or REJECTED decides a
  // PENDING order; STOPPED stops one that was PENDING or ACCEPTED and not yet captured. A rejected or
  // stopped order is cancelled. Klarna then POSTs the event to the order's merchant_urls.notification
  // (in the background: this answers at once; GET /_emulator/notifications shows the delivery).
  r.post("/orders/:order_id/fraud-decision", (req, res) => {
    const parsed = z
      .object({ fraud_status: z.enum(["ACCEPTED", "REJECTED", "STOPPED"]) })
      .strict()
      .safeParse(req.body);
    if (!parsed.success) return bad(res, zodMessage(parsed.error));
    const order = state.findOrder(req.params.order_id);
    if (!order) return res.status(404).json({ error: `Order ${req.params.order_id} cannot be found` });
    const decision = parsed.data.fraud_status;
    if (decision === "STOPPED") {
      if (order.fraud_status === "REJECTED" || order.captures.length > 0) {
        return res
          .status(409)
          .json({ error: `Order ${order.order_id} cannot be stopped: fraud status ${order.fraud_status}, ${order.captures.length} captures.` });
      }
    } else if (order.fraud_status !== "PENDING") {
      return res
        .status(409)
        .json({ error: `Order ${order.order_id} is not PENDING (fraud status ${order.fraud_status}): Klarna's review decides pending orders only.` });
    }
    order.fraud_status = decision === "ACCEPTED" ? "ACCEPTED" : "REJECTED";
    if (decision !== "ACCEPTED") {
      order.status = "CANCELLED";
      order.remaining_authorized_amount = 0;
    }
    const context = state.orderContext.get(order.order_id);
    const url = context?.merchant_urls?.notification;
    const notification = url
      ? state.notifier.send(
          order.order_id,
          fillPlaceholders(url, { order_id: order.order_id, session_id: context?.session_id }),
          FRAUD_EVENTS[decision],
        )
      : undefined;
    res.json({
      order_id: order.order_id,
      fraud_status: order.fraud_status,
      status: order.status,
      notification: notification ? { event_id: notification.event_id, event_type: notification.event_type, url: notification.url } : null,
    });
  });

  // The notifications Klarna sent, with every try. `wait_ms` holds the answer until none is pending.
  r.get("/notifications", async (req, res) => {
    const waitMs = Math.min(Number(req.query.wait_ms ?? 0) || 0, 60_000);
    if (waitMs > 0) await state.notifier.settled(waitMs);
    const orderId = req.query.order_id;
    res.json({ notifications: state.notifier.records.filter((n) => !orderId || n.order_id === orderId) });
  });

  r.post("/sessions/:session_id/authorize", (req, res) => {
    const opts = z
      .object({ approved: z.boolean().optional(), fraud_status: z.enum(["ACCEPTED", "PENDING", "REJECTED"]).optional() })
      .strict()
      .safeParse(req.body ?? {});
    if (!opts.success) return bad(res, zodMessage(opts.error));
    try {
      res.json(authorizeSession(state, req.params.session_id, opts.data));
    } catch (err) {
      if (err instanceof KlarnaRefusal) return res.status(err.status).json({ error: err.message });
      throw err;
    }
  });

  r.get("/journal", (req, res) => {
    const since = Number(req.query.since ?? 0);
    res.json({ entries: state.journal.filter((e) => e.seq > since) });
  });
  r.delete("/journal", (_req, res) => {
    state.journal = [];
    res.status(204).end();
  });

  r.get("/faults", (_req, res) => res.json({ faults: state.faults.map(({ matcher: _m, ...f }) => f) }));
  r.post("/faults", (req, res) => {
    const parsed = faultSchema.safeParse(req.body);
    if (!parsed.success) return bad(res, zodMessage(parsed.error));
    const { matcher: _m, ...fault } = state.addFault(parsed.data as FaultSpec);
    res.status(201).json(fault);
  });
  r.delete("/faults", (_req, res) => {
    state.faults = [];
    res.status(204).end();
  });

  r.get("/settings", (_req, res) => res.json(redactSettings(state.settings)));
  r.patch("/settings", (req, res) => {
    const parsed = settingsPatchSchema.safeParse(req.body);
    if (!parsed.success) return bad(res, zodMessage(parsed.error));
    state.settings = { ...state.settings, ...parsed.data };
    res.json(redactSettings(state.settings));
  });

  r.get("/clock", (_req, res) => res.json({ now: new Date(state.now()).toISOString() }));
  r.post("/clock", (req, res) => {
    const parsed = z.object({ advance_seconds: z.number().positive() }).strict().safeParse(req.body);
    if (!parsed.success) return bad(res, zodMessage(parsed.error));
    res.json({ now: new Date(state.advanceClock(parsed.data.advance_seconds * 1000)).toISOString() });
  });

  r.post("/reset", (_req, res) => {
    state.reset();
    res.status(204).end();
  });
  return r;
}

function redactSettings(s: EmulatorSettings) {
  return { ...s, password: "********" };
}

export function createEmulator(settings: Partial<EmulatorSettings> = {}, options: EmulatorOptions = {}): KlarnaEmulator {
  if (options.controlToken !== undefined && options.controlToken.length < MIN_CONTROL_TOKEN_LENGTH) {
    throw new TypeError(`The control token must be at least ${MIN_CONTROL_TOKEN_LENGTH} characters.`);
  }
  const state = new EmulatorState(settings);
  const app = express();
  app.disable("x-powered-by");
  // Klarna accepts bodies up to 1 MB (413 REQUEST_TOO_LARGE past it).
  app.use(express.json({ limit: "1mb", type: () => true }));
  app.use("/_emulator", controlRouter(state, options));
  for (const route of KLARNA_ROUTES) {
    const m = route.method.toLowerCase() as "get" | "post" | "patch" | "delete";
    app[m](route.path, (req, res, next) => dispatch(state, route)(req, res).catch(next));
  }
  app.use((req: Request, res: Response) => {
    write(res, errorAnswer(404, "NOT_FOUND", [`No such resource: ${req.method} ${req.path}`]));
  });
  app.use((err: { type?: string; status?: number }, req: Request, res: Response, _next: NextFunction) => {
    let answer: Answer;
    if (err.type === "entity.too.large") answer = errorAnswer(413, "REQUEST_TOO_LARGE", ["Request body is larger than 1 MB"]);
    else if (err.type === "entity.parse.failed") answer = errorAnswer(400, "BAD_VALUE", ["Bad value: body is not valid JSON"]);
    else answer = errorAnswer(500, "INTERNAL_SERVER_ERROR", ["Unexpected server error"]);
    state.record({
      method: req.method,
      path: req.path,
      body: null,
      response: answer,
      outcome: "answered",
      duration_ms: 0,
      idempotency_key: req.headers["klarna-idempotency-key"] as string | undefined,
    });
    write(res, answer);
  });

  let server: Server | undefined;
  const emulator: KlarnaEmulator = {
    app,
    state,
    listen(port = 0, host = "127.0.0.1") {
      if (!isLoopback(host) && !(options.allowRemoteControl && options.controlToken)) {
        return Promise.reject(new Error(remoteControlRefusal(host)));
      }
      return new Promise((resolve, reject) => {
        server = app.listen(port, host);
        server.once("error", reject);
        server.once("listening", () => {
          const addr = server!.address() as AddressInfo;
          const shownHost = host.includes(":") ? `[${host}]` : host;
          emulator.url = `http://${shownHost}:${addr.port}`;
          resolve(emulator.url);
        });
      });
    },
    close() {
      state.notifier.stop();
      return new Promise((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
  return emulator;
}

/** Why the emulator will not bind `host`: one line, for the CLI and for `listen()`. */
export function remoteControlRefusal(host: string): string {
  return `refusing to listen on ${host}: the control endpoints (/_emulator/*) would be open to the network; bind 127.0.0.1, or pass --allow-remote-control with --control-token <token of ${MIN_CONTROL_TOKEN_LENGTH}+ characters> (options allowRemoteControl and controlToken from code)`;
}
