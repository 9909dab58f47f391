import { v4 as uuidv4 } from "uuid";

/**
 * Klarna's pending-order notifications (docs "Pending orders"; KLARNA.md "The rest of an order's
 * life"): when its fraud review decides a PENDING order, Klarna sends an HTTP POST to the
 * `merchant_urls.notification` given at checkout, with the `order_id` and an `event_type`
 * (FRAUD_RISK_ACCEPTED, FRAUD_RISK_REJECTED, FRAUD_RISK_STOPPED). The notification is not signed: a
 * merchant reads the order from Order Management before acting on it.
 *
 * Delivery runs in the background (the control call that decided never waits for it): a try that
 * gets no 2xx answer within `notification_timeout_ms` is retried after each delay of
 * `notification_retry_delays_ms` in turn (real time, not the emulator's clock), then given up.
 */

export type NotificationEvent = "FRAUD_RISK_ACCEPTED" | "FRAUD_RISK_REJECTED" | "FRAUD_RISK_STOPPED";

export interface NotificationTry {
  at: string;
  /** The merchant's HTTP status; null when no answer arrived (refused connection, timeout). */
  status_code: number | null;
  error?: string;
  duration_ms: number;
}

export interface NotificationRecord {
  event_id: string;
  order_id: string;
  event_type: NotificationEvent;
  url: string;
  body: { order_id: string; event_id: string; event_type: NotificationEvent };
  /** `pending` while tries remain, `delivered` after a 2xx, `failed` after the last try. */
  state: "pending" | "delivered" | "failed";
  tries: NotificationTry[];
}

export interface NotificationPolicy {
  retryDelaysMs: number[];
  timeoutMs: number;
}

const USER_AGENT = "klarna-emulator (pending-order notification)";

export class Notifier {
  records: NotificationRecord[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private deliveries = new Set<Promise<void>>();
  private controllers = new Set<AbortController>();
  private generation = 0;

  constructor(
    private readonly policy: () => NotificationPolicy,
    private readonly clock: () => number,
  ) {}

  /** Queues a notification and starts delivering it; returns at once. */
  send(orderId: string, url: string, eventType: NotificationEvent): NotificationRecord {
    const event_id = uuidv4();
    const record: NotificationRecord = {
      event_id,
      order_id: orderId,
      event_type: eventType,
      url,
      body: { order_id: orderId, event_id, event_type: eventType },
      state: "pending",
      tries: [],
    };
    this.records.push(record);
    const delivery = this.deliver(record, this.generation).finally(() => this.deliveries.delete(delivery));
    this.deliveries.add(delivery);
    return record;
  }

  /** Resolves when no notification is pending any more, or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.deliveries.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
      await Promise.race([Promise.allSettled([...this.deliveries]), timeout]);
      clearTimeout(timer);
    }
  }

  /** Stops every delivery in progress (reset, close): nothing is sent afterwards. */
  stop(): void {
    this.generation += 1;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
    this.deliveries.clear();
  }

  clear(): void {
    this.stop();
    this.records = [];
  }

  private async deliver(record: NotificationRecord, generation: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (generation !== this.generation) return;
      const policy = this.policy();
      const ok = await this.tryOnce(record, policy.timeoutMs);
      if (generation !== this.generation) return;
      if (ok) {
        record.state = "delivered";
        return;
      }
      if (attempt >= policy.retryDelaysMs.length) {
        record.state = "failed";
        return;
      }
      await this.wait(policy.retryDelaysMs[attempt]);
    }
  }

  private async tryOnce(record: NotificationRecord, timeoutMs: number): Promise<boolean> {
    const started = Date.now();
    const at = new Date(this.clock()).toISOString();
    const controller = new AbortController();
    this.controllers.add(controller);
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      const res = await fetch(record.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "User-Agent": USER_AGENT },
        body: JSON.stringify(record.body),
        signal: controller.signal,
        redirect: "manual",
      });
      await res.arrayBuffer().catch(() => undefined);
      record.tries.push({ at, status_code: res.status, duration_ms: Date.now() - started });
      return res.status >= 200 && res.status < 300;
    } catch (err) {
      const reason = controller.signal.aborted ? controller.signal.reason : err;
      // fetch reports "fetch failed" and keeps the reason (ECONNREFUSED, …) in `cause`. Duck-typed:
      // errors may come from another realm (fetch's), where `instanceof Error` is false.
      const messageOf = (e: unknown) => (typeof (e as { message?: unknown })?.message === "string" ? (e as Error).message : undefined);
      const message = messageOf((reason as { cause?: unknown })?.cause) ?? messageOf(reason) ?? String(reason);
      record.tries.push({ at, status_code: null, error: message, duration_ms: Date.now() - started });
      return false;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      t.unref?.();
      this.timers.add(t);
    });
  }
}

/** `{order.id}` and `{session.id}` in a merchant URL (payments.yml `merchant_urls`) filled in. */
export function fillPlaceholders(url: string, ids: { order_id: string; session_id?: string }): string {
  return url
    .split("{order.id}")
    .join(encodeURIComponent(ids.order_id))
    .split("{session.id}")
    .join(encodeURIComponent(ids.session_id ?? ""));
}
