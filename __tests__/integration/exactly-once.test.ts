import { useRefundRollback } from "../support/refund-rollback";
import { klarnaOrder, klarnaPosts, ledgerRows, loseRefundAnswers, orderWithReturn, receive, useStore } from "../support/store";

/**
 * A return is refunded at Klarna exactly once, through dropped connections, timeouts, Medusa rollbacks,
 * double clicks and keys Klarna has forgotten. Real store, real PostgreSQL, the emulator's faults.
 */
const s = useStore();
const rollback = useRefundRollback(s);

const medusaRefunds = async (orderId: string) => (await s.admin().get(`/admin/orders/${orderId}?expand=refunds`)).body.order.refunds;

it("a connection dropped after Klarna refunded, on every attempt, and its order unreadable: the admin sees 'safe to retry', and the retry refunds once", async () => {
  const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
  await loseRefundAnswers(s);
  const first = await receive(s, ret.id, items);
  expect(first.status).toBe(400);
  expect(first.body.message).toMatch(
    /^Klarna did not confirm the refund: Klarna could not be reached \(ECONNRESET\)\. Klarna's order could not be read to check whether it refunded\. It is safe to retry: the retry reuses the same idempotency key, so Klarna refunds at most once:\nKlarna NETWORK_ERROR, 3 attempts$/,
  );
  const [unknown] = await ledgerRows(s, "resource_id = $1", [ret.id]);
  expect(unknown.status).toBe("unknown");
  expect((await klarnaOrder(s, klarnaOrderId)).refunded_amount).toBe(2618); // Klarna did refund
  expect(await medusaRefunds(order.id)).toEqual([]); // Medusa did not record it

  const retry = await receive(s, ret.id, items);
  expect(retry.status).toBe(200);
  const posts = await klarnaPosts(s, "/refunds");
  expect(posts).toHaveLength(4);
  expect(new Set(posts.map((p) => p.idempotency_key))).toEqual(new Set([unknown.idempotency_key]));
  expect(posts.at(-1).outcome).toBe("replayed");
  const k = await klarnaOrder(s, klarnaOrderId);
  expect(k.refunds).toHaveLength(1);
  expect(k.refunded_amount).toBe(2618);
  expect((await medusaRefunds(order.id)).map((r: any) => r.amount)).toEqual([2618]);
  const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
  expect(row).toMatchObject({ status: "succeeded", klarna_refund_id: k.refunds[0].refund_id, attempts: 2 });
});

it("a delay past the client's timeout: the retry reuses the key and Klarna refunds once", async () => {
  const { klarnaOrderId, ret, items } = await orderWithReturn(s);
  await s.k.control("POST", "/faults", { method: "POST", path: "/ordermanagement/v1/orders/*/refunds", delay_ms: 2600 });
  const res = await receive(s, ret.id, items);
  expect(res.status).toBe(200);
  const posts = await klarnaPosts(s, "/refunds");
  expect(posts.length).toBeGreaterThanOrEqual(2);
  expect(new Set(posts.map((p) => p.idempotency_key)).size).toBe(1);
  expect((await klarnaOrder(s, klarnaOrderId)).refunds).toHaveLength(1);
});

it("Medusa rolls back after Klarna refunded: the retry sends nothing and Medusa records the one refund", async () => {
  const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
  await rollback.arm(order.id);
  const failed = await receive(s, ret.id, items);
  expect(failed.status).toBe(500); // Medusa's own failure (injected), not the plugin's
  await rollback.disarm();
  expect((await klarnaOrder(s, klarnaOrderId)).refunded_amount).toBe(2618);
  expect(await medusaRefunds(order.id)).toEqual([]);
  const [ret1] = await s.db.query(`SELECT status FROM "return" WHERE id = $1`, [ret.id]);
  expect(ret1.status).toBe("requested");

  const retry = await receive(s, ret.id, items);
  expect(retry.status).toBe(200);
  expect(await klarnaPosts(s, "/refunds")).toHaveLength(1); // only the first attempt's
  expect((await klarnaOrder(s, klarnaOrderId)).refunds).toHaveLength(1);
  expect((await medusaRefunds(order.id)).map((r: any) => r.amount)).toEqual([2618]);
});

it("two admins receive the same return at once: one Klarna refund, one Medusa refund, a clear answer for the loser", async () => {
  const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
  const [a, b] = await Promise.all([receive(s, ret.id, items), receive(s, ret.id, items)]);
  const statuses = [a.status, b.status].sort();
  expect(statuses[0]).toBe(200);
  expect(statuses[1]).toBeGreaterThanOrEqual(400);
  expect(statuses[1]).toBeLessThan(500);
  const loser = a.status === 200 ? b : a;
  // The loser waited for the winner's request to end (the ledger lock), then saw the return received.
  expect(loser.status).toBe(400);
  expect(loser.body.message).toMatch(
    /^Return ret_\w+ was already refunded through Klarna \(Klarna refund [0-9a-f-]+\) by another request\. Nothing was refunded again/,
  );
  expect((await klarnaOrder(s, klarnaOrderId)).refunds).toHaveLength(1);
  expect((await medusaRefunds(order.id)).map((r: any) => r.amount)).toEqual([2618]);
});

it("a key Klarna has forgotten (older than 24 hours): the retry finds the refund on the Klarna order and sends nothing", async () => {
  const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
  await loseRefundAnswers(s);
  expect((await receive(s, ret.id, items)).status).toBe(400);
  // A day passes, at Klarna and for the plugin.
  await s.k.control("POST", "/clock", { advance_seconds: 25 * 3600 });
  await s.db.query(`UPDATE klarna_refund SET key_first_sent_at = key_first_sent_at - interval '25 hours' WHERE resource_id = $1`, [ret.id]);
  await s.k.control("DELETE", "/journal");

  const retry = await receive(s, ret.id, items);
  expect(retry.status).toBe(200);
  const { entries } = await s.k.control("GET", "/journal");
  expect(entries.map((e: any) => e.method)).toEqual(["GET"]);
  const k = await klarnaOrder(s, klarnaOrderId);
  expect(k.refunds).toHaveLength(1);
  expect((await medusaRefunds(order.id)).map((r: any) => r.amount)).toEqual([2618]);
  const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
  expect(row.status).toBe("succeeded");
  expect(row.notes.join(" ")).toMatch(/Confirmed by reading the Klarna order/);
});

it("a refund that succeeded more than 24 hours ago is not sent again after a rollback", async () => {
  const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
  await rollback.arm(order.id);
  expect((await receive(s, ret.id, items)).status).toBe(500);
  await rollback.disarm();
  await s.k.control("POST", "/clock", { advance_seconds: 25 * 3600 });
  await s.k.control("DELETE", "/journal");
  expect((await receive(s, ret.id, items)).status).toBe(200);
  expect((await s.k.control("GET", "/journal")).entries).toEqual([]);
  expect((await klarnaOrder(s, klarnaOrderId)).refunds).toHaveLength(1);
  expect((await medusaRefunds(order.id)).map((r: any) => r.amount)).toEqual([2618]);
});

it("after an unconfirmed attempt the admin changes the amount: the plugin looks first and refuses to refund twice", async () => {
  const { ret, items } = await orderWithReturn(s);
  await loseRefundAnswers(s);
  expect((await receive(s, ret.id, items, 2618)).status).toBe(400);
  const changed = await receive(s, ret.id, items, 2500);
  expect(changed.status).toBe(400);
  expect(changed.body.message).toMatch(
    /^Klarna already refunded 26\.18 EUR for return ret_\w+ \(Klarna refund [0-9a-f-]+\), but Medusa now asks for 25\.00 EUR\. Nothing was sent\. Use a refund amount of 26\.18 EUR, or refund the difference separately/,
  );
  expect(await klarnaPosts(s, "/refunds")).toHaveLength(3); // the three dropped attempts only
  expect((await receive(s, ret.id, items, 2618)).status).toBe(200);
});

it("after an attempt that never reached Klarna, a changed amount is sent with a new key", async () => {
  const { klarnaOrderId, ret, items } = await orderWithReturn(s);
  await s.k.control("POST", "/faults", { method: "POST", path: "/ordermanagement/v1/orders/*/refunds", drop: "before", times: 3 });
  expect((await receive(s, ret.id, items, 2618)).status).toBe(400);
  const [unknown] = await ledgerRows(s, "resource_id = $1", [ret.id]);
  // Moments after the send, "not on Klarna's order" does not prove the key made nothing.
  const early = await receive(s, ret.id, items, 2500);
  expect(early.status).toBe(400);
  expect(early.body.message).toMatch(
    /^An earlier attempt of return ret_\w+ was sent to Klarna moments ago and Klarna has not confirmed it yet\. Nothing was sent\. Retry in \d+ s/,
  );
  // Half a minute later (by the database's clock) Klarna's order proves it: a new key is safe.
  await s.db.query(`UPDATE klarna_refund SET last_sent_at = last_sent_at - interval '1 minute' WHERE resource_id = $1`, [ret.id]);
  expect((await receive(s, ret.id, items, 2500)).status).toBe(200);
  const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
  expect(row.idempotency_key).not.toBe(unknown.idempotency_key);
  const k = await klarnaOrder(s, klarnaOrderId);
  expect(k.refunds.map((r: any) => r.refunded_amount)).toEqual([2500]);
});

it("a refund started by code (no admin request) finds its return by amount and says how it knew", async () => {
  const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
  const manager = s.container.resolve("manager");
  await manager.transaction(async (m: any) => {
    const received = await s.container.resolve("returnService").withTransaction(m).receive(ret.id, items, undefined, true);
    await s.container.resolve("orderService").withTransaction(m).registerReturnReceived(received.order_id, received);
  });
  const [post] = await klarnaPosts(s, "/refunds");
  expect(post.body.order_lines.map((l: any) => l.type)).toEqual(["physical", "return_fee"]);
  const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
  expect(row).toMatchObject({ status: "succeeded", source: "fallback:requested-return-with-this-amount" });
  expect((await klarnaOrder(s, klarnaOrderId)).refunded_amount).toBe(2618);
  expect((await medusaRefunds(order.id)).map((r: any) => r.amount)).toEqual([2618]);
});

it("twenty different returns received at once all succeed: the plugin never holds a connection while it waits", async () => {
  // Regression: with the ledger lock held on a pooled connection until the request ended, 20 concurrent
  // receives deadlocked (plugin connections held by requests waiting for Medusa's pool, which requests
  // waiting for plugin connections held).
  const prepared = [];
  for (let i = 0; i < 20; i++) prepared.push(await orderWithReturn(s));
  const results = await Promise.all(prepared.map((p) => receive(s, p.ret.id, p.items)));
  expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
  for (const p of prepared) expect((await klarnaOrder(s, p.klarnaOrderId)).refunds).toHaveLength(1);
}, 120_000);
