import { sumTotals } from "../../src/klarna/order-lines";
import { capturedOrder, fulfilledOrder, itemOf, klarnaOrder, klarnaPosts, ledgerRows, ok, useStore } from "../support/store";

/**
 * The other ways Medusa 1.20 reaches refundPayment, each recognised: claims with type "refund",
 * swaps' process-payment, and manual refunds of an order or a payment. None charges a fee.
 */
const s = useStore();

it("a claim of type refund refunds the claimed items' lines, no fee, keyed by the claim", async () => {
  const { order, klarnaOrderId } = await fulfilledOrder(s);
  const tee = itemOf(order, s.seed.variants[0].id);
  // Medusa 1.20 computes 0 for a refund claim without an amount; its admin UI always sends one.
  const res = await s.admin().post(`/admin/orders/${order.id}/claims`, {
    type: "refund",
    refund_amount: 2975,
    claim_items: [{ item_id: tee.id, quantity: 1, reason: "production_failure", note: "seam open" }],
  });
  expect(res.status).toBe(200);
  const claim = res.body.order.claims[0];
  expect(claim.payment_status).toBe("refunded");
  const [post] = await klarnaPosts(s, "/refunds");
  expect(post.body).toMatchObject({
    refunded_amount: claim.refund_amount,
    reference: claim.id,
    description: `Refund for your claim on order #${order.display_id}`,
  });
  expect(post.body.order_lines.map((l: any) => [l.type, l.reference, l.quantity])).toEqual([["physical", "TEE-ORG-S", 1]]);
  expect(sumTotals(post.body.order_lines)).toBe(claim.refund_amount);
  const [row] = await ledgerRows(s, "resource_id = $1", [claim.id]);
  expect(row).toMatchObject({
    kind: "claim",
    intent: `claim:${claim.id}`,
    status: "succeeded",
    source: "request:claim",
    idempotency_key: post.idempotency_key,
  });
  expect((await klarnaOrder(s, klarnaOrderId)).refunded_amount).toBe(claim.refund_amount);
});

it("a claim refunding less than the items withholds the difference as a discount line, never a return fee", async () => {
  const { order } = await fulfilledOrder(s);
  const tee = itemOf(order, s.seed.variants[0].id);
  const res = await s.admin().post(`/admin/orders/${order.id}/claims`, {
    type: "refund",
    refund_amount: 2000,
    claim_items: [{ item_id: tee.id, quantity: 1, reason: "other" }],
  });
  expect(res.status).toBe(200);
  const [post] = await klarnaPosts(s, "/refunds");
  expect(post.body.order_lines.map((l: any) => [l.type, l.total_amount])).toEqual([
    ["physical", 2975],
    ["discount", -975],
  ]);
});

it("a swap to a cheaper item refunds the difference with the swap's reference, once", async () => {
  const { order, klarnaOrderId } = await fulfilledOrder(s);
  const large = itemOf(order, s.seed.variants[1].id);
  const { body: swapped } = ok(
    await s.admin().post(`/admin/orders/${order.id}/swaps`, {
      return_items: [{ item_id: large.id, quantity: 1 }],
      additional_items: [{ variant_id: s.seed.variants[0].id, quantity: 1 }],
    }),
    "create swap",
  );
  const swap = swapped.order.swaps[0];
  // The shopper confirms the exchange (completes the swap's cart; nothing to pay), which settles the difference.
  const confirmed = await s.store().post(`/store/carts/${swap.cart_id}/complete`);
  ok(confirmed, "confirm swap");
  const { body: sw } = ok(await s.admin().get(`/admin/swaps/${swap.id}`), "swap");
  swap.difference_due = sw.swap.difference_due;
  expect(swap.difference_due).toBeLessThan(0);
  await s.k.control("DELETE", "/journal");
  const res = await s.admin().post(`/admin/orders/${order.id}/swaps/${swap.id}/process-payment`);
  expect(res.status).toBe(200);
  const posts = await klarnaPosts(s, "/refunds");
  expect(posts).toHaveLength(1);
  expect(posts[0].body).toEqual({
    refunded_amount: -swap.difference_due,
    reference: swap.id,
    description: `Refund of the price difference of your exchange for order #${order.display_id}`,
  });
  const [row] = await ledgerRows(s, "resource_id = $1", [swap.id]);
  expect(row).toMatchObject({ kind: "swap", status: "succeeded", source: "request:swap-process-payment" });
  expect((await klarnaOrder(s, klarnaOrderId)).refunded_amount).toBe(-swap.difference_due);
});

it("a manual refund of the order: amount only, with the admin's note and a reference naming the order's n-th refund", async () => {
  const { order, klarnaOrderId } = await capturedOrder(s);
  await s.k.control("DELETE", "/journal");
  const first = await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "discount", note: "Goodwill: late delivery" });
  expect(first.status).toBe(200);
  const second = await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "discount" });
  expect(second.status).toBe(200);
  const posts = await klarnaPosts(s, "/refunds");
  expect(posts.map((p) => p.body)).toEqual([
    { refunded_amount: 500, reference: `${order.id}/refund-1`, description: "Goodwill: late delivery" },
    { refunded_amount: 500, reference: `${order.id}/refund-2`, description: `Refund for order #${order.display_id}` },
  ]);
  expect(posts[0].idempotency_key).not.toBe(posts[1].idempotency_key);
  const rows = await ledgerRows(s, "order_id = $1", [order.id]);
  expect(rows.map((r: any) => [r.kind, r.intent, r.status])).toEqual([
    ["order_refund", `refund:${order.id}:1`, "succeeded"],
    ["order_refund", `refund:${order.id}:2`, "succeeded"],
  ]);
  expect((await klarnaOrder(s, klarnaOrderId)).refunded_amount).toBe(1000);
});

it("a refund of a payment (POST /admin/payments/:id/refund) is recognised the same way", async () => {
  const { order, klarnaOrderId } = await capturedOrder(s);
  await s.k.control("DELETE", "/journal");
  const payment = order.payments[0];
  const res = await s.admin().post(`/admin/payments/${payment.id}/refund`, { amount: 700, reason: "other", note: "Price match" });
  expect(res.status).toBe(200);
  const [post] = await klarnaPosts(s, "/refunds");
  expect(post.body).toEqual({ refunded_amount: 700, reference: `${order.id}/refund-1`, description: "Price match" });
  const [row] = await ledgerRows(s, "order_id = $1", [order.id]);
  expect(row).toMatchObject({ kind: "payment_refund", source: "request:payment-refund", status: "succeeded" });
  expect((await klarnaOrder(s, klarnaOrderId)).refunded_amount).toBe(700);
});

it("the same payment refunded twice: payment.data.refunds lists both Klarna refunds with their ids, amounts, intents and keys", async () => {
  const { order, klarnaOrderId } = await capturedOrder(s);
  const payment = order.payments[0];
  ok(await s.admin().post(`/admin/payments/${payment.id}/refund`, { amount: 700, reason: "other", note: "Price match" }), "first refund");
  ok(await s.admin().post(`/admin/payments/${payment.id}/refund`, { amount: 450, reason: "other" }), "second refund");

  const k = await klarnaOrder(s, klarnaOrderId);
  expect(k.refunds.map((r: any) => r.refunded_amount)).toEqual([700, 450]);
  const rows = await ledgerRows(s, "order_id = $1", [order.id]);
  const posts = await klarnaPosts(s, "/refunds");
  expect(posts.map((p) => p.idempotency_key)).toEqual(rows.map((r: any) => r.idempotency_key));
  // Medusa replaces payment.data with what refundPayment returns: the second refund keeps the first.
  const { body } = ok(await s.admin().get(`/admin/payments/${payment.id}`), "payment");
  expect(body.payment.amount_refunded).toBe(1150);
  expect(body.payment.data).toMatchObject({ order_id: klarnaOrderId, capture_count: 1 });
  expect(body.payment.data.refunds).toEqual([
    { klarna_refund_id: k.refunds[0].refund_id, amount: 700, intent: `refund:${order.id}:1`, idempotency_key: rows[0].idempotency_key },
    { klarna_refund_id: k.refunds[1].refund_id, amount: 450, intent: `refund:${order.id}:2`, idempotency_key: rows[1].idempotency_key },
  ]);
});
