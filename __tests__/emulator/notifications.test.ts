import * as http from "http";
import type { AddressInfo } from "net";
import { validate as isUuid } from "uuid";
import { RunningEmulator, startEmulator, tshirt } from "../support/emulator";
import { checkout } from "../support/klarna-answers";

/**
 * Pending orders (Klarna docs "Pending orders"; KLARNA.md "The rest of an order's life"): when the
 * fraud review decides, Klarna sends an HTTP POST to the checkout's `merchant_urls.notification`
 * (payments.yml `merchant_urls`: "URL for notifications on pending orders", with `{order.id}` and
 * `{session.id}` placeholders) whose JSON body carries `order_id` and `event_type`. It is not signed.
 */
let k: RunningEmulator;
let merchant: Merchant;
beforeAll(async () => {
  k = await startEmulator();
  merchant = await startMerchant();
});
afterAll(async () => {
  await k.stop();
  await merchant.stop();
});
beforeEach(async () => {
  await k.control("POST", "/reset");
  await k.control("PATCH", "/settings", { notification_retry_delays_ms: [20, 20], notification_timeout_ms: 300 });
  merchant.received = [];
  merchant.answers = [];
});

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

interface Merchant {
  url: string;
  received: Received[];
  /** Statuses to answer, in turn (then 200); "hang" never answers. */
  answers: Array<number | "hang">;
  stop(): Promise<void>;
}

/** A store's notification endpoint, real HTTP on loopback. */
async function startMerchant(): Promise<Merchant> {
  const m: Merchant = { url: "", received: [], answers: [], stop: async () => undefined };
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      m.received.push({ method: req.method!, url: req.url!, headers: req.headers, body: raw ? JSON.parse(raw) : undefined });
      const answer = m.answers.shift() ?? 200;
      if (answer === "hang") return;
      res.statusCode = answer;
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  m.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  m.stop = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return m;
}

const session = (notification?: string) => ({
  purchase_country: "US",
  purchase_currency: "USD",
  locale: "en-US",
  order_amount: 10000,
  order_lines: [tshirt()],
  ...(notification ? { merchant_urls: { confirmation: "https://shop.example/thanks", notification } } : {}),
});

async function pendingOrder(notification?: string): Promise<{ orderId: string; sessionId: string }> {
  const { placed, session_id } = await checkout(k, session(notification), { authorize: { fraud_status: "PENDING" } });
  expect(placed.data.fraud_status).toBe("PENDING");
  return { orderId: placed.data.order_id, sessionId: session_id };
}

const decide = (orderId: string, fraud_status: string) => k.control("POST", `/orders/${orderId}/fraud-decision`, { fraud_status });
const notifications = async (orderId?: string) =>
  (await k.control("GET", `/notifications?wait_ms=5000${orderId ? `&order_id=${orderId}` : ""}`)).notifications as any[];

it("ACCEPTED: one POST to merchant_urls.notification with order_id, event_id, event_type FRAUD_RISK_ACCEPTED; placeholders filled; no signature", async () => {
  const { orderId, sessionId } = await pendingOrder(`${merchant.url}/klarna/notify?order={order.id}&session={session.id}`);
  const decided = await decide(orderId, "ACCEPTED");
  expect(decided).toMatchObject({
    order_id: orderId,
    fraud_status: "ACCEPTED",
    status: "AUTHORIZED",
    notification: { event_type: "FRAUD_RISK_ACCEPTED" },
  });

  const [n] = await notifications();
  expect(n).toMatchObject({
    order_id: orderId,
    event_type: "FRAUD_RISK_ACCEPTED",
    state: "delivered",
    url: `${merchant.url}/klarna/notify?order=${orderId}&session=${sessionId}`,
  });
  expect(n.tries).toHaveLength(1);
  expect(n.tries[0].status_code).toBe(200);

  expect(merchant.received).toHaveLength(1);
  const got = merchant.received[0];
  expect(got.method).toBe("POST");
  expect(got.url).toBe(`/klarna/notify?order=${orderId}&session=${sessionId}`);
  expect(got.headers["content-type"]).toMatch(/^application\/json/);
  expect(got.headers.authorization).toBeUndefined();
  expect(got.body).toEqual({ order_id: orderId, event_id: n.event_id, event_type: "FRAUD_RISK_ACCEPTED" });
  expect(isUuid(got.body.event_id)).toBe(true);
  // The order the merchant reads afterwards (it must: the notification is not signed).
  expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data.fraud_status).toBe("ACCEPTED");
});

it("REJECTED and STOPPED: FRAUD_RISK_REJECTED / FRAUD_RISK_STOPPED, the order is cancelled", async () => {
  const rejected = await pendingOrder(`${merchant.url}/n`);
  expect(await decide(rejected.orderId, "REJECTED")).toMatchObject({ fraud_status: "REJECTED", status: "CANCELLED" });
  const stopped = await pendingOrder(`${merchant.url}/n`);
  expect(await decide(stopped.orderId, "STOPPED")).toMatchObject({ fraud_status: "REJECTED", status: "CANCELLED" });
  const all = await notifications();
  expect(all.map((n) => [n.order_id, n.event_type, n.state])).toEqual([
    [rejected.orderId, "FRAUD_RISK_REJECTED", "delivered"],
    [stopped.orderId, "FRAUD_RISK_STOPPED", "delivered"],
  ]);
  expect(merchant.received.map((r) => r.body.event_type)).toEqual(["FRAUD_RISK_REJECTED", "FRAUD_RISK_STOPPED"]);
});

it("STOPPED also stops an ACCEPTED order not yet captured; ACCEPTED/REJECTED decide PENDING orders only (409)", async () => {
  const { orderId } = await pendingOrder(`${merchant.url}/n`);
  await decide(orderId, "ACCEPTED");
  await expect(decide(orderId, "REJECTED")).rejects.toThrow(/409.*not PENDING/);
  expect(await decide(orderId, "STOPPED")).toMatchObject({ status: "CANCELLED" });
  expect((await notifications()).map((n) => n.event_type)).toEqual(["FRAUD_RISK_ACCEPTED", "FRAUD_RISK_STOPPED"]);
});

it("a merchant that does not answer 2xx is retried after each of notification_retry_delays_ms, every try recorded", async () => {
  merchant.answers = [500, 503];
  const { orderId } = await pendingOrder(`${merchant.url}/n`);
  await decide(orderId, "ACCEPTED");
  const [n] = await notifications(orderId);
  expect(n.state).toBe("delivered");
  expect(n.tries.map((t: any) => t.status_code)).toEqual([500, 503, 200]);
  expect(merchant.received.map((r) => r.body.event_id)).toEqual([n.event_id, n.event_id, n.event_id]);
});

it("after the last retry it is given up (failed); an unreachable URL records the network error", async () => {
  merchant.answers = [500, 500, 500];
  const { orderId } = await pendingOrder(`${merchant.url}/n`);
  await decide(orderId, "ACCEPTED");
  const [n] = await notifications(orderId);
  expect(n.state).toBe("failed");
  expect(n.tries.map((t: any) => t.status_code)).toEqual([500, 500, 500]);

  const closed = await startMerchant();
  await closed.stop();
  const other = await pendingOrder(`${closed.url}/n`);
  await decide(other.orderId, "REJECTED");
  const [m] = await notifications(other.orderId);
  expect(m.state).toBe("failed");
  expect(m.tries.map((t: any) => t.status_code)).toEqual([null, null, null]);
  expect(m.tries[0].error).toMatch(/ECONNREFUSED/);
});

it("the control call answers at once, even when the merchant hangs (a try times out after notification_timeout_ms)", async () => {
  merchant.answers = ["hang"];
  await k.control("PATCH", "/settings", { notification_timeout_ms: 1500 });
  const { orderId } = await pendingOrder(`${merchant.url}/n`);
  const started = Date.now();
  await decide(orderId, "ACCEPTED");
  // Well under the 1.5 s the hanging merchant holds the first try (margin for a loaded machine).
  expect(Date.now() - started).toBeLessThan(1000);
  const [n] = await notifications(orderId);
  expect(n.state).toBe("delivered");
  expect(n.tries[0]).toMatchObject({ status_code: null, error: expect.stringMatching(/no answer within 1500 ms/) });
  expect(n.tries[1].status_code).toBe(200);
});

it("an order placed without a notification URL is decided without a notification", async () => {
  const { orderId } = await pendingOrder();
  expect((await decide(orderId, "ACCEPTED")).notification).toBeNull();
  expect(await notifications()).toEqual([]);
});

it("reset forgets notifications and stops their retries", async () => {
  merchant.answers = [500, 500, 500];
  await k.control("PATCH", "/settings", { notification_retry_delays_ms: [200, 200] });
  const { orderId } = await pendingOrder(`${merchant.url}/n`);
  await decide(orderId, "ACCEPTED");
  await new Promise((r) => setTimeout(r, 50));
  await k.control("POST", "/reset");
  await new Promise((r) => setTimeout(r, 500));
  expect(merchant.received).toHaveLength(1);
  expect(await notifications()).toEqual([]);
});
