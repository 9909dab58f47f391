import * as net from "net";
import { inspect } from "util";
import { v4 as uuidv4 } from "uuid";
import { KlarnaApiError, KlarnaClient, resolveBaseUrl, pluginVersion } from "../../src";
import { germanSession, PASSWORD, RunningEmulator, SEED_REFUND, startEmulator, tshirt, USERNAME } from "../support/emulator";
import { journalSpecProblems } from "../support/openapi";

/** The Klarna client against the emulator over real HTTP: no mocks. */
let k: RunningEmulator;
beforeAll(async () => {
  k = await startEmulator();
});
afterAll(() => k.stop());
beforeEach(() => k.control("POST", "/reset"));

const refundsPath = "/ordermanagement/v1/orders/*/refunds";
const journal = async () => (await k.control("GET", "/journal")).entries as any[];
const order = (c: KlarnaClient, id: string) => c.getOrder(id);

/** Every request the client sent must match Klarna's published request schema. */
afterEach(async () => {
  expect(await journalSpecProblems(k)).toEqual([]);
});

describe("every call, typed, against the emulator", () => {
  it("Payments: session, update, read, place order, cancel authorization", async () => {
    const c = k.client();
    const body = germanSession();
    const session = await c.createSession(body);
    expect(session.session_id).toBeTruthy();
    expect(session.client_token).toBeTruthy();
    await c.updateSession(session.session_id, { locale: "en-DE" });
    expect((await c.readSession(session.session_id)).locale).toBe("en-DE");
    const auth = await k.control("POST", `/sessions/${session.session_id}/authorize`, {});
    const key = uuidv4();
    const placed = await c.placeOrder(auth.authorization_token, { ...body, merchant_reference1: "cart_1" }, { idempotencyKey: key });
    expect(placed).toMatchObject({ fraud_status: "ACCEPTED", idempotencyKey: key });
    expect((await order(c, placed.order_id)).merchant_reference1).toBe("cart_1");

    const second = await k.control("POST", `/sessions/${(await c.createSession(body)).session_id}/authorize`, {});
    await c.cancelAuthorization(second.authorization_token);
    await expect(c.placeOrder(second.authorization_token, body)).rejects.toMatchObject({ status: 404, error_code: "NOT_FOUND" });
  });

  it("Order Management: capture, list/get capture, refund, get refund, acknowledge, references, release, cancel", async () => {
    const c = k.client();
    const id = await k.createOrder({
      captured: false,
      order_lines: [tshirt(), tshirt({ name: "Socks", reference: "SO-1", unit_price: 500, total_amount: 500 })],
    });
    await c.acknowledgeOrder(id);
    await c.updateMerchantReferences(id, { merchant_reference1: "order_1", merchant_reference2: "cart_1" });
    const captured = await c.captureOrder(id, { captured_amount: 10000, order_lines: [tshirt()], reference: "fulfillment_1" });
    expect(captured.captureId).toBeTruthy();
    expect(captured.location).toContain(`/captures/${captured.captureId}`);
    expect((await c.getCapture(id, captured.captureId)).captured_amount).toBe(10000);
    expect(await c.listCaptures(id)).toHaveLength(1);
    const key = uuidv4();
    const refund = await c.refundOrder(
      id,
      { refunded_amount: 4000, order_lines: [tshirt({ quantity: 1, unit_price: 4000, total_amount: 4000 })] },
      { idempotencyKey: key },
    );
    expect(refund.idempotencyKey).toBe(key);
    expect(refund.location).toContain(refund.refundId);
    expect((await c.getRefund(id, refund.refundId)).refunded_amount).toBe(4000);
    await c.releaseRemainingAuthorization(id);
    expect(await order(c, id)).toMatchObject({
      status: "CAPTURED",
      refunded_amount: 4000,
      merchant_reference1: "order_1",
      merchant_reference2: "cart_1",
    });

    const other = await k.createOrder({ captured: false });
    await c.cancelOrder(other);
    expect((await order(c, other)).status).toBe("CANCELLED");
  });

  it("every POST/PATCH carries an idempotency key (the caller's or a fresh UUID v4) and a User-Agent naming the plugin", async () => {
    const c = k.client();
    const id = await k.createOrder({});
    await c.refundOrder(id, { refunded_amount: 1 });
    await c.updateMerchantReferences(id, { merchant_reference1: "x" });
    await c.getOrder(id);
    const entries = await journal();
    for (const e of entries.filter((e) => e.method !== "GET")) expect(e.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);
    for (const e of entries) expect(e.user_agent).toBe(`medusa-plugin-klarna/${pluginVersion()} node/${process.versions.node}`);
    expect(pluginVersion()).toBe(require("../../package.json").version);
  });
});

describe("retries: network errors, timeouts, 429 and 5xx only, always with the same key", () => {
  it("503 twice, then success: three attempts, one key, one refund", async () => {
    const c = k.client();
    const id = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: refundsPath, status: 503, times: 2 });
    const res = await c.refundOrder(id, SEED_REFUND);
    const posts = (await journal()).filter((e) => e.method === "POST");
    expect(posts.map((e) => e.response?.status)).toEqual([503, 503, 201]);
    expect(new Set(posts.map((e) => e.idempotency_key))).toEqual(new Set([res.idempotencyKey]));
    expect((await order(c, id)).refunded_amount).toBe(9500);
  });

  it("429 honours Retry-After", async () => {
    const c = k.client();
    const id = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: refundsPath, status: 429, retry_after: 1 });
    const started = Date.now();
    await c.refundOrder(id, { refunded_amount: 100 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect((await journal()).filter((e) => e.method === "POST").map((e) => e.response?.status)).toEqual([429, 201]);
  });

  it("a 429 asking to wait longer than allowed is not retried, and says how long to wait", async () => {
    const c = k.client({ retry: { retries: 2, baseDelayMs: 10, maxRetryAfterMs: 2000 } });
    const id = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: refundsPath, status: 429, retry_after: 30 });
    const err: KlarnaApiError = await c.refundOrder(id, { refunded_amount: 100 }).catch((e) => e);
    expect(err).toBeInstanceOf(KlarnaApiError);
    expect(err).toMatchObject({ status: 429, error_code: "TOO_MANY_REQUESTS", retry_after_s: 30, attempts: 1 });
  });

  it("never retries another 4xx", async () => {
    const c = k.client();
    const id = await k.createOrder({});
    const err: KlarnaApiError = await c.refundOrder(id, { refunded_amount: 999999 }).catch((e) => e);
    expect(err).toMatchObject({
      status: 403,
      error_code: "REFUND_NOT_ALLOWED",
      error_messages: ["Over refund is not allowed. Refund not possible."],
      attempts: 1,
    });
    expect(err.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(err.message).toBe(
      `Klarna: Over refund is not allowed. Refund not possible. (HTTP 403, REFUND_NOT_ALLOWED, correlation ${err.correlation_id}) on POST /ordermanagement/v1/orders/${id}/refunds`,
    );
    expect((await journal()).filter((e) => e.method === "POST")).toHaveLength(1);
  });

  it("a timeout is retried with the same key; the slow first attempt and the retry make one refund", async () => {
    const c = k.client({ timeoutMs: 200 });
    const id = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: refundsPath, delay_ms: 500 });
    const res = await c.refundOrder(id, { refunded_amount: 700 });
    await new Promise((r) => setTimeout(r, 400)); // let the delayed first attempt finish at the emulator
    const posts = (await journal()).filter((e) => e.method === "POST");
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(posts.map((e) => e.idempotency_key))).toEqual(new Set([res.idempotencyKey]));
    const o = await order(c, id);
    expect(o.refunded_amount).toBe(700);
    expect(o.refunds).toHaveLength(1);
    expect(o.refunds[0].refund_id).toBe(res.refundId);
  });

  it("a connection dropped after Klarna refunded, then retried, refunds once", async () => {
    const c = k.client();
    const id = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: refundsPath, drop: "after" });
    const res = await c.refundOrder(id, SEED_REFUND);
    const posts = (await journal()).filter((e) => e.method === "POST");
    expect(posts.map((e) => e.outcome)).toEqual(["dropped_after", "replayed"]);
    expect(posts[0].response.headers["Refund-Id"]).toBe(res.refundId);
    expect((await order(c, id)).refunded_amount).toBe(9500);
  });

  it("a connection dropped before is retried and refunds once", async () => {
    const c = k.client();
    const id = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: refundsPath, drop: "before" });
    await c.refundOrder(id, { refunded_amount: 100 });
    expect((await journal()).filter((e) => e.method === "POST").map((e) => e.outcome)).toEqual(["dropped_before", "answered"]);
    expect((await order(c, id)).refunded_amount).toBe(100);
  });

  it("gives up after the bounded retries with a network error of its own", async () => {
    const c = k.client();
    const id = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: refundsPath, drop: "before", times: 3 });
    const err: KlarnaApiError = await c.refundOrder(id, { refunded_amount: 100 }).catch((e) => e);
    expect(err).toMatchObject({ error_code: "NETWORK_ERROR", attempts: 3, status: undefined });
    expect(err.outcomeUnknown).toBe(true);
    expect((await order(c, id)).refunded_amount).toBe(0);
  });

  it("times out with TIMEOUT when every attempt is too slow", async () => {
    const c = k.client({ timeoutMs: 100, retry: { retries: 1, baseDelayMs: 10 } });
    const id = await k.createOrder({});
    await k.control("POST", "/faults", { method: "GET", path: "/ordermanagement/v1/orders/*", delay_ms: 300, times: 2 });
    await expect(c.getOrder(id)).rejects.toMatchObject({ error_code: "TIMEOUT", attempts: 2 });
  });

  it("an unreachable Klarna is a NETWORK_ERROR", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const c = new KlarnaClient({
      username: USERNAME,
      password: PASSWORD,
      baseUrl: `http://127.0.0.1:${port}`,
      retry: { retries: 1, baseDelayMs: 5 },
    });
    await expect(c.getOrder("x")).rejects.toMatchObject({ error_code: "NETWORK_ERROR", attempts: 2 });
  });
});

describe("credentials never leak", () => {
  const basic = Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64");

  it("not in any error's message, stack, JSON or inspection, nor in a log line", async () => {
    const lines: string[] = [];
    const logger = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
    const c = k.client({ logger, timeoutMs: 100, retry: { retries: 1, baseDelayMs: 5 } });
    const id = await k.createOrder({});
    const errors: unknown[] = [];
    errors.push(await c.refundOrder(id, { refunded_amount: 999999 }).catch((e) => e)); // 403
    await k.control("POST", "/faults", { path: "/ordermanagement/v1/orders/*", status: 500, times: 2 });
    errors.push(await c.getOrder(id).catch((e) => e)); // 500
    await k.control("POST", "/faults", { path: "/ordermanagement/v1/orders/*", delay_ms: 300, times: 2 });
    errors.push(await c.getOrder(id).catch((e) => e)); // timeout
    await k.control("POST", "/faults", { path: "/ordermanagement/v1/orders/*", drop: "before", times: 2 });
    errors.push(await c.getOrder(id).catch((e) => e)); // network
    const wrong = k.client({ password: PASSWORD + "-wrong", logger });
    errors.push(await wrong.getOrder(id).catch((e) => e)); // 401
    expect(errors.map((e) => (e as KlarnaApiError).error_code)).toEqual([
      "REFUND_NOT_ALLOWED",
      "INTERNAL_SERVER_ERROR",
      "TIMEOUT",
      "NETWORK_ERROR",
      "UNAUTHORIZED",
    ]);
    for (const e of errors) {
      const err = e as KlarnaApiError;
      for (const text of [err.message, String(err.stack), JSON.stringify(err), inspect(err, { depth: 10, showHidden: true })]) {
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain(basic);
      }
    }
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.join("\n")).not.toContain(PASSWORD);
    expect((errors[4] as KlarnaApiError).message).toMatch(/Klarna rejected the API credentials/);
  });
});

describe("options", () => {
  it("maps region and environment to Klarna's hosts", () => {
    expect(resolveBaseUrl({})).toBe("https://api.playground.klarna.com/");
    expect(resolveBaseUrl({ region: "eu", environment: "live" })).toBe("https://api.klarna.com/");
    expect(resolveBaseUrl({ region: "na", environment: "live" })).toBe("https://api-na.klarna.com/");
    expect(resolveBaseUrl({ region: "na", environment: "playground" })).toBe("https://api-na.playground.klarna.com/");
    expect(resolveBaseUrl({ region: "oc", environment: "live" })).toBe("https://api-oc.klarna.com/");
    expect(resolveBaseUrl({ region: "oc", environment: "playground" })).toBe("https://api-oc.playground.klarna.com/");
    expect(resolveBaseUrl({ baseUrl: "http://127.0.0.1:4010" })).toBe("http://127.0.0.1:4010/");
  });

  it("refuses bad options with a clear message and no secret in it", () => {
    expect(() => new KlarnaClient({ username: "", password: "p" })).toThrow("Klarna username and password are required.");
    expect(() => new KlarnaClient({ username: "u", password: "p", baseUrl: `https://u:${PASSWORD}@proxy.example` })).toThrow(
      "Klarna baseUrl must not contain credentials; use the username and password options.",
    );
    expect(() => new KlarnaClient({ username: "u", password: "p", baseUrl: "ftp://x" })).toThrow(/must be http/);
    expect(() => new KlarnaClient({ username: "u", password: "p", region: "xx" as any })).toThrow(/Unknown Klarna region/);
  });

  it("refuses an idempotency key that is not a UUID", async () => {
    await expect(k.client().refundOrder("x", { refunded_amount: 1 }, { idempotencyKey: "return_1" })).rejects.toThrow(
      "Klarna-Idempotency-Key must be a UUID.",
    );
  });
});
