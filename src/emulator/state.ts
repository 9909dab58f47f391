import { v4 as uuidv4 } from "uuid";
import type {
  Address,
  Capture,
  FraudStatus,
  InitialPaymentMethod,
  MerchantUrls,
  Order,
  OrderLine,
  Refund,
  SessionCustomer,
  SessionRequest,
  ShippingInfo,
} from "../klarna/types";
import { Notifier } from "./notifications";
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
  /** When the shopper authorised, on the emulator's clock (the token places an order for a limited time). */
  authorized_at: number;
}

/** What Klarna keeps about an order besides what `GET` shows: where to notify the merchant. */
export interface OrderContext {
  session_id?: string;
  merchant_urls?: MerchantUrls;
}

export interface NewOrder {
  purchase_country: string;
  purchase_currency: string;
  locale?: string;
  order_amount: number;
  order_lines: OrderLine[];
  merchant_reference1?: string;
  merchant_reference2?: string;
  merchant_data?: string;
  billing_address?: Address;
  shipping_address?: Address;
  customer?: SessionCustomer;
  merchant_urls?: MerchantUrls;
  session_id?: string;
  initial_payment_method?: InitialPaymentMethod;
  fraud_status?: FraudStatus;
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
  /** Apply the request, then answer without these headers (e.g. a 201 that lost its `Refund-Id`). */
  omit_headers?: string[];
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

export const DAY_MS = 24 * 3600_000;

interface StoredAnswer {
  answer: Answer;
  stored_at: number;
}

/** The emulated merchant account: orders, sessions, keys, faults, the journal and the clock. */
export class EmulatorState {
  settings: EmulatorSettings;
  readonly initialSettings: EmulatorSettings;
  orders = new Map<string, Order>();
  orderContext = new Map<string, OrderContext>();
  sessions = new Map<string, SessionState>();
  authorizations = new Map<string, AuthorizationState>();
  idempotency = new Map<string, StoredAnswer>();
  inFlight = new Map<string, Promise<Answer | null>>();
  faults: Fault[] = [];
  journal: JournalEntry[] = [];
  readonly notifier: Notifier;
  private seq = 0;
  private clockOffsetMs = 0;
  private rateWindow = { second: 0, count: 0 };

  constructor(settings: Partial<EmulatorSettings> = {}) {
    this.initialSettings = { ...DEFAULT_SETTINGS, ...settings };
    this.settings = { ...this.initialSettings };
    this.notifier = new Notifier(
      () => ({ retryDelaysMs: this.settings.notification_retry_delays_ms, timeoutMs: this.settings.notification_timeout_ms }),
      () => this.now(),
    );
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
    this.orderContext.clear();
    this.notifier.clear();
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
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.method || f.method.toUpperCase() === method) && f.matcher.test(path));
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

  /** The order with this id, with its expiry applied (Klarna expires orders on its own clock). */
  findOrder(orderId: string): Order | undefined {
    const order = this.orders.get(orderId);
    if (order) this.expireIfDue(order);
    return order;
  }

  /** True once the emulator's clock has passed `expires_at` ("the order can only be captured until this time"). */
  isExpired(order: Order): boolean {
    return this.now() >= Date.parse(order.expires_at);
  }

  /**
   * Past `expires_at` the remaining authorisation is gone: an AUTHORIZED order becomes EXPIRED; a
   * PART_CAPTURED one becomes `part_captured_expiry_status` (unconfirmed). Applied lazily, on read or use.
   */
  expireIfDue(order: Order): void {
    if (order.status !== "AUTHORIZED" && order.status !== "PART_CAPTURED") return;
    if (!this.isExpired(order)) return;
    order.status = order.status === "AUTHORIZED" ? "EXPIRED" : this.settings.part_captured_expiry_status;
    order.remaining_authorized_amount = 0;
  }

  createOrder(input: NewOrder): Order {
    const now = this.now();
    const order: Order = {
      order_id: uuidv4(),
      klarna_reference: klarnaReference(),
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
      merchant_data: input.merchant_data,
      billing_address: input.billing_address,
      shipping_address: input.shipping_address,
      customer: orderCustomer(input.customer),
      initial_payment_method: input.initial_payment_method,
      shipping_info: [],
      captures: [],
      refunds: [],
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + this.settings.authorization_ttl_days * DAY_MS).toISOString(),
    };
    this.orders.set(order.order_id, order);
    this.orderContext.set(order.order_id, { session_id: input.session_id, merchant_urls: input.merchant_urls });
    return order;
  }

  /** Applies a capture to the order's amounts and status, as Klarna moves them. */
  addCapture(
    order: Order,
    input: { captured_amount: number; order_lines?: OrderLine[]; reference?: string; description?: string; shipping_info?: ShippingInfo[] },
  ): Capture {
    const capture: Capture = {
      capture_id: uuidv4(),
      // The spec's example: the order's reference K4MADNY, its first capture's K4MADNY-1.
      klarna_reference: `${order.klarna_reference ?? klarnaReference()}-${order.captures.length + 1}`,
      captured_amount: input.captured_amount,
      captured_at: new Date(this.now()).toISOString(),
      description: input.description,
      reference: input.reference,
      order_lines: input.order_lines ?? [],
      refunded_amount: 0,
      billing_address: order.billing_address,
      shipping_address: order.shipping_address,
      shipping_info: input.shipping_info ?? [],
    };
    order.captures.push(capture);
    order.captured_amount += capture.captured_amount;
    order.remaining_authorized_amount -= capture.captured_amount;
    order.status = order.remaining_authorized_amount === 0 ? "CAPTURED" : "PART_CAPTURED";
    return capture;
  }

  /**
   * Applies a refund and allocates it to captures (consumer invoices). Klarna: "We highly recommend
   * you send order lines as they allow us to locate the refund to the right capture" (KLARNA.md,
   * "Refund allocation"): a refund line whose `reference` matches a capture line's goes to that
   * capture (the oldest such capture with room first); what no line places fills captures oldest first.
   */
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
    const allocate = (capture: Capture, wanted: number): number => {
      const take = Math.min(capture.captured_amount - capture.refunded_amount, wanted, left);
      capture.refunded_amount += take;
      left -= take;
      return take;
    };
    for (const line of refund.order_lines) {
      if (!line.reference || line.total_amount <= 0) continue;
      let wanted = line.total_amount;
      for (const capture of order.captures) {
        if (left === 0 || wanted === 0) break;
        if (capture.order_lines.some((l) => l.reference === line.reference)) wanted -= allocate(capture, wanted);
      }
    }
    for (const capture of order.captures) {
      if (left === 0) break;
      allocate(capture, left);
    }
    order.refunds.push(refund);
    order.refunded_amount += refund.refunded_amount;
    return refund;
  }
}

/** A short, customer-friendly reference like the spec's example `K4MADNY`. */
function klarnaReference(): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  let out = "K";
  for (let i = 0; i < 6; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/** Order Management's `customer` keeps the two identity fields of the checkout's customer. */
function orderCustomer(customer: SessionCustomer | undefined) {
  if (!customer) return undefined;
  const { date_of_birth, national_identification_number } = customer;
  if (date_of_birth === undefined && national_identification_number === undefined) return undefined;
  return { date_of_birth, national_identification_number };
}

function pathMatcher(pattern: string): RegExp {
  const escaped = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]+");
  return new RegExp(`^${escaped}$`);
}
