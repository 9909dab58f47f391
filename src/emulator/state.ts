import { v4 as uuidv4 } from "uuid";
import type { Capture, FraudStatus, Order, OrderLine, Refund, SessionRequest } from "../klarna/types";
import { DEFAULT_SETTINGS, EmulatorSettings } from "./settings";

/** What a route answers; the dispatcher writes it (or drops it, when a fault says so). */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface SessionState {
  session_id: string;
  client_token: string;
  body: SessionRequest;
  status: "incomplete" | "complete";
  authorization_token?: string;
  created_at: number;
}

export interface AuthorizationState {
  authorization_token: string;
  session_id: string;
  fraud_status: FraudStatus;
  state: "open" | "used" | "cancelled";
  order_id?: string;
}

export interface FaultSpec {
  method?: string;
  /** Path pattern: exact, or with `*` standing for one path segment (e.g. `/ordermanagement/v1/orders/* /refunds`). */
  path: string;
  times: number;
  delay_ms?: number;
  status?: number;
  error_code?: string;
  error_messages?: string[];
  retry_after?: number;
  drop?: "before" | "after";
}

export interface Fault extends FaultSpec {
  fault_id: string;
  remaining: number;
  matcher: RegExp;
}

export interface JournalEntry {
  seq: number;
  at: string;
  method: string;
  path: string;
  idempotency_key?: string;
  user_agent?: string;
  body: unknown;
  response: Answer | null;
  /** What happened besides a normal answer: a replay, a dropped connection, an injected fault. */
  outcome: "answered" | "replayed" | "fault" | "dropped_before" | "dropped_after";
  fault_id?: string;
  duration_ms: number;
}

interface StoredAnswer {
  answer: Answer;
  stored_at: number;
}

/** The emulated merchant account: orders, sessions, keys, faults, the journal and the clock. */
export class EmulatorState {
  settings: EmulatorSettings;
  readonly initialSettings: EmulatorSettings;
  orders = new Map<string, Order>();
  sessions = new Map<string, SessionState>();
  authorizations = new Map<string, AuthorizationState>();
  idempotency = new Map<string, StoredAnswer>();
  inFlight = new Map<string, Promise<Answer | null>>();
  faults: Fault[] = [];
  journal: JournalEntry[] = [];
  private seq = 0;
  private clockOffsetMs = 0;
  private rateWindow = { second: 0, count: 0 };

  constructor(settings: Partial<EmulatorSettings> = {}) {
    this.initialSettings = { ...DEFAULT_SETTINGS, ...settings };
    this.settings = { ...this.initialSettings };
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  advanceClock(ms: number): number {
    this.clockOffsetMs += ms;
    return this.now();
  }

  reset(): void {
    this.settings = { ...this.initialSettings };
    this.orders.clear();
    this.sessions.clear();
    this.authorizations.clear();
    this.idempotency.clear();
    this.faults = [];
    this.journal = [];
    this.clockOffsetMs = 0;
  }

  // ---- idempotency ---------------------------------------------------------------------------------

  storedAnswer(key: string): Answer | undefined {
    const stored = this.idempotency.get(key);
    if (!stored) return undefined;
    if (this.now() - stored.stored_at > this.settings.idempotency_ttl_hours * 3600_000) {
      this.idempotency.delete(key);
      return undefined;
    }
    return stored.answer;
  }

  remember(key: string, answer: Answer): void {
    const keep = answer.status < 400 || (answer.status < 500 && answer.status !== 429 && this.settings.replay_failed_requests);
    if (keep) this.idempotency.set(key, { answer, stored_at: this.now() });
  }

  // ---- faults ------------------------------------------------------------------------------------

  addFault(spec: FaultSpec): Fault {
    const fault: Fault = { ...spec, fault_id: uuidv4(), remaining: spec.times, matcher: pathMatcher(spec.path) };
    this.faults.push(fault);
    return fault;
  }

  /** The first fault matching the request, with one use taken from it. */
  takeFault(method: string, path: string): Fault | undefined {
    const fault = this.faults.find(
      (f) => f.remaining > 0 && (!f.method || f.method.toUpperCase() === method) && f.matcher.test(path),
    );
    if (fault) {
      fault.remaining -= 1;
      if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
    }
    return fault;
  }

  // ---- rate limit --------------------------------------------------------------------------------

  /** True when this request is over the per-second limit. */
  overRateLimit(): boolean {
    const limit = this.settings.rate_limit_per_second;
    if (!limit) return false;
    const second = Math.floor(this.now() / 1000);
    if (this.rateWindow.second !== second) this.rateWindow = { second, count: 0 };
    this.rateWindow.count += 1;
    return this.rateWindow.count > limit;
  }

  // ---- journal -----------------------------------------------------------------------------------

  record(entry: Omit<JournalEntry, "seq" | "at">): JournalEntry {
    const full: JournalEntry = { seq: ++this.seq, at: new Date(this.now()).toISOString(), ...entry };
    this.journal.push(full);
    if (this.journal.length > this.settings.journal_limit) this.journal.shift();
    return full;
  }

  // ---- orders ------------------------------------------------------------------------------------

  createOrder(input: {
    purchase_country: string;
    purchase_currency: string;
    locale?: string;
    order_amount: number;
    order_lines: OrderLine[];
    merchant_reference1?: string;
    merchant_reference2?: string;
    fraud_status?: FraudStatus;
  }): Order {
    const now = this.now();
    const order: Order = {
      order_id: uuidv4(),
      status: "AUTHORIZED",
      fraud_status: input.fraud_status ?? "ACCEPTED",
      order_amount: input.order_amount,
      original_order_amount: input.order_amount,
      captured_amount: 0,
      refunded_amount: 0,
      remaining_authorized_amount: input.order_amount,
      purchase_country: input.purchase_country.toUpperCase(),
      purchase_currency: input.purchase_currency.toUpperCase(),
      locale: input.locale,
      order_lines: input.order_lines,
      merchant_reference1: input.merchant_reference1,
      merchant_reference2: input.merchant_reference2,
      captures: [],
      refunds: [],
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + 28 * 24 * 3600_000).toISOString(),
    };
    this.orders.set(order.order_id, order);
    return order;
  }

  /** Applies a capture to the order's amounts and status, as Klarna moves them. */
  addCapture(order: Order, input: { captured_amount: number; order_lines?: OrderLine[]; reference?: string; description?: string }): Capture {
    const capture: Capture = {
      capture_id: uuidv4(),
      klarna_reference: Math.random().toString(36).slice(2, 10).toUpperCase(),
      captured_amount: input.captured_amount,
      captured_at: new Date(this.now()).toISOString(),
      description: input.description,
      reference: input.reference,
      order_lines: input.order_lines ?? [],
      refunded_amount: 0,
    };
    order.captures.push(capture);
    order.captured_amount += capture.captured_amount;
    order.remaining_authorized_amount -= capture.captured_amount;
    order.status = order.remaining_authorized_amount === 0 ? "CAPTURED" : "PART_CAPTURED";
    return capture;
  }

  /** Applies a refund, allocating it over the captures in order. */
  addRefund(order: Order, input: { refunded_amount: number; order_lines?: OrderLine[]; reference?: string; description?: string }): Refund {
    const refund: Refund = {
      refund_id: uuidv4(),
      refunded_amount: input.refunded_amount,
      refunded_at: new Date(this.now()).toISOString(),
      description: input.description,
      reference: input.reference,
      order_lines: input.order_lines ?? [],
    };
    let left = refund.refunded_amount;
    for (const capture of order.captures) {
      const room = capture.captured_amount - capture.refunded_amount;
      const take = Math.min(room, left);
      capture.refunded_amount += take;
      left -= take;
      if (left === 0) break;
    }
    order.refunds.push(refund);
    order.refunded_amount += refund.refunded_amount;
    return refund;
  }
}

function pathMatcher(pattern: string): RegExp {
  const escaped = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]+");
  return new RegExp(`^${escaped}$`);
}
