import request from "supertest";
import { PASSWORD } from "../support/emulator";
import {
  capturedOrder,
  checkoutWithKlarna,
  klarnaOrder,
  klarnaPosts,
  ledgerRows,
  loseRefundAnswers,
  ok,
  orderWithReturn,
  receive,
  useStore,
} from "../support/store";

/**
 * GET /admin/klarna/orders/:order_id — the data behind the order page's Klarna panel — and the
 * panel's "check with Klarna" action, through the real store, real PostgreSQL and the emulator.
 */
const s = useStore();

const klarnaGets = async () =>
  ((await s.k.control("GET", "/journal")).entries as any[]).filter((e) => e.method === "GET" && e.path.startsWith("/ordermanagement/v1/orders/"));

/** A DE order captured, one T-shirt returned with the paid return label and received. */
async function returnedOrder() {
  const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
  ok(await receive(s, ret.id, items), "receive");
  return { order, klarnaOrderId, ret };
}

describe("GET /admin/klarna/orders/:order_id", () => {
  it("shows the Klarna order, its capture and the return's refund with the return_fee line and the ledger's key", async () => {
    const { order, klarnaOrderId, ret } = await returnedOrder();
    await s.k.control("DELETE", "/journal");

    const res = await s.admin().get(`/admin/klarna/orders/${order.id}`);
    expect(res.status).toBe(200);
    const panel = res.body;
    expect(await klarnaGets()).toHaveLength(1); // one Klarna call per panel load

    expect(panel).toMatchObject({ order_id: order.id, display_id: order.display_id, currency_code: "eur" });
    expect(panel.klarna).toMatchObject({
      order_id: klarnaOrderId,
      status: "CAPTURED",
      fraud_status: "ACCEPTED",
      purchase_country: "DE",
      purchase_currency: "EUR",
      order_amount: order.total,
      captured_amount: order.total,
      refunded_amount: 2618,
      remaining_authorized_amount: 0,
      expiry: null, // nothing left to capture: nothing can expire
      error: null,
    });
    expect(panel.captures).toEqual([
      { capture_id: expect.any(String), amount: order.total, captured_at: expect.any(String), reference: expect.any(String) },
    ]);

    const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
    expect(panel.refunds).toHaveLength(1);
    const refund = panel.refunds[0];
    expect(refund).toMatchObject({
      id: row.id,
      purpose: "return",
      resource_id: ret.id,
      label: `Return ${ret.id}`,
      amount: 2618,
      status: "succeeded",
      klarna_refund_id: row.klarna_refund_id,
      idempotency_key: row.idempotency_key,
      source: "request:receive-return",
      return_fee: { amount: 357, line_type: "return_fee" },
      error: null,
      attempts: 1,
    });
    expect(refund.lines).toEqual([
      { name: "Organic Cotton T-Shirt, S", type: "physical", reference: "TEE-ORG-S", quantity: 1, total_amount: 2975, is_return_fee: false },
      { name: "DHL Return label", type: "return_fee", reference: "return-fee", quantity: 1, total_amount: -357, is_return_fee: true },
    ]);

    expect(panel.agreement).toEqual({
      klarna: { captured: order.total, refunded: 2618 },
      medusa: { captured: order.total, refunded: 2618 },
      agrees: true,
      findings: [],
    });
    expect(panel.actions).toEqual({
      waive_return_fee: [{ return_id: ret.id, amount: 357 }],
      check_refunds: [],
      adopt_refunds: [],
      retry_capture: false,
      extend_authorization: false,
    });
    expect(JSON.stringify(panel)).not.toContain(PASSWORD);
  });

  it("offers no fee give-back once the fee was given back, and counts the fee's refund on both sides", async () => {
    const { order, ret } = await returnedOrder();
    ok(await s.admin().post(`/admin/klarna/returns/${ret.id}/waive-return-fee`), "waive");
    const { body: panel } = ok(await s.admin().get(`/admin/klarna/orders/${order.id}`), "panel");
    expect(panel.actions.waive_return_fee).toEqual([]);
    expect(panel.refunds.map((r: any) => [r.purpose, r.label, r.amount, r.status])).toEqual([
      ["return", `Return ${ret.id}`, 2618, "succeeded"],
      ["fee_waiver", `Return fee of ${ret.id}`, 357, "succeeded"],
    ]);
    expect(panel.refunds[1].lines).toEqual([expect.objectContaining({ type: "return_fee", total_amount: 357, is_return_fee: true })]);
    expect(panel.agreement).toMatchObject({ klarna: { refunded: 2975 }, medusa: { refunded: 2975 }, agrees: true });
  });

  it("needs admin authentication", async () => {
    const { order } = await capturedOrder(s);
    const res = await request(s.url).get(`/admin/klarna/orders/${order.id}`);
    expect(res.status).toBe(401);
    expect((await request(s.url).post(`/admin/klarna/refunds/00000000-0000-4000-8000-000000000000/check`)).status).toBe(401);
  });

  it("answers 404 for an order not paid with Klarna or unknown", async () => {
    const res = await s.admin().get(`/admin/klarna/orders/order_does_not_exist`);
    expect(res.status).toBe(404);
    expect(res.body.message).toBe("Order order_does_not_exist was not found.");
  });

  it("still answers when Klarna is down: the ledger and Medusa's books, with klarna.error", async () => {
    const { order, ret } = await returnedOrder();
    await s.k.control("POST", "/faults", { method: "GET", path: "/ordermanagement/v1/orders/*", status: 503, times: 10 });
    const res = await s.admin().get(`/admin/klarna/orders/${order.id}`);
    expect(res.status).toBe(200);
    expect(res.body.klarna.error.message).toMatch(/^Klarna did not confirm the order lookup: .*\(Klarna .*HTTP 503/);
    expect(res.body.klarna).toMatchObject({ status: null, captured_amount: null, purchase_country: "DE", fraud_status: "ACCEPTED" });
    expect(res.body.captures).toEqual([{ capture_id: expect.any(String), amount: order.total, captured_at: null, reference: null }]);
    expect(res.body.refunds.map((r: any) => r.resource_id)).toEqual([ret.id]);
    expect(res.body.agreement).toMatchObject({ klarna: null, medusa: { captured: order.total, refunded: 2618 }, agrees: null });
    expect(JSON.stringify(res.body)).not.toContain(PASSWORD);
  });

  it("shows a refused refund with Klarna's message, code and correlation id", async () => {
    const { order, ret, items } = await orderWithReturn(s);
    await s.k.control("POST", "/faults", {
      method: "POST",
      path: "/ordermanagement/v1/orders/*/refunds",
      status: 403,
      error_code: "REFUND_NOT_ALLOWED",
      error_messages: ["Refund not allowed."],
      times: 5,
    });
    expect((await receive(s, ret.id, items)).status).toBe(400);

    const { body: panel } = ok(await s.admin().get(`/admin/klarna/orders/${order.id}`), "panel");
    expect(panel.refunds).toHaveLength(1);
    expect(panel.refunds[0]).toMatchObject({ status: "failed", klarna_refund_id: null });
    expect(panel.refunds[0].error).toEqual({
      message: expect.stringMatching(/^Klarna refused the refund: Refund not allowed/),
      code: "REFUND_NOT_ALLOWED",
      correlation_id: expect.any(String),
      http_status: 403,
    });
    expect(panel.actions.check_refunds).toEqual([]);
  });
});

describe("the panel's actions in GET /admin/klarna/orders/:order_id", () => {
  it("offers to extend the authorisation while Klarna holds something to capture, not once it is captured", async () => {
    const { completed } = await checkoutWithKlarna(s);
    const placed = ok(completed, "complete").body.data;
    const { body: before } = ok(await s.admin().get(`/admin/klarna/orders/${placed.id}`), "panel");
    expect(before.klarna).toMatchObject({ status: "AUTHORIZED", remaining_authorized_amount: placed.total, expiry: { state: "ok", days_left: 28 } });
    expect(before.actions).toMatchObject({ extend_authorization: true, retry_capture: true });

    ok(await s.admin().post(`/admin/orders/${placed.id}/capture`), "capture");
    const { body: after } = ok(await s.admin().get(`/admin/klarna/orders/${placed.id}`), "panel");
    expect(after.klarna).toMatchObject({ status: "CAPTURED", remaining_authorized_amount: 0, expiry: null });
    expect(after.actions).toMatchObject({ extend_authorization: false, retry_capture: false });
  });

  it("a refund made at Klarna outside the plugin: named with its Klarna refund id, offered to Record refund, then both books agree", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    const made = await s.k.call("POST", `/ordermanagement/v1/orders/${klarnaOrderId}/refunds`, {
      refunded_amount: 1000,
      description: "Goodwill, from the merchant portal",
    });
    expect(made.status).toBe(201);
    const klarnaRefundId = made.headers["refund-id"];

    const { body: before } = ok(await s.admin().get(`/admin/klarna/orders/${order.id}`), "panel");
    expect(before.agreement).toMatchObject({ klarna: { refunded: 1000 }, medusa: { refunded: 0 }, agrees: false });
    expect(before.agreement.findings).toEqual([
      {
        kind: "klarna_refund_outside_plugin",
        klarna_refund_id: klarnaRefundId,
        message: `Klarna refunded 10.00 EUR on order #${order.display_id} (Klarna refund ${klarnaRefundId}) outside this plugin, and Medusa has not recorded it.`,
        suggested_action:
          "Record refund: Medusa records the 10.00 EUR Klarna refunded, and nothing is sent to Klarna, so the customer is not refunded twice.",
      },
    ]);
    expect(before.actions.adopt_refunds).toEqual([{ klarna_refund_id: klarnaRefundId, amount: 1000 }]);

    const adopt = ok(await s.admin().post(`/admin/klarna/orders/${order.id}/adopt-refund`, { klarna_refund_id: klarnaRefundId }), "adopt");
    expect(adopt.body.klarna.message).toBe(`Recorded Klarna refund ${klarnaRefundId} (10.00 EUR) in Medusa. Nothing was sent to Klarna.`);
    const { body: after } = ok(await s.admin().get(`/admin/klarna/orders/${order.id}`), "panel");
    expect(after.agreement).toEqual({
      klarna: { captured: order.total, refunded: 1000 },
      medusa: { captured: order.total, refunded: 1000 },
      agrees: true,
      findings: [],
    });
    expect(after.actions.adopt_refunds).toEqual([]);
    expect(after.refunds).toEqual([
      expect.objectContaining({
        purpose: "adoption",
        label: `Recorded Klarna refund ${klarnaRefundId}`,
        amount: 1000,
        status: "succeeded",
        medusa_state: "recorded",
        klarna_refund_id: klarnaRefundId,
      }),
    ]);
    // The merchant's own refund is the only one on this Klarna order: recording it sent nothing.
    expect(await klarnaPosts(s, `/orders/${klarnaOrderId}/refunds`)).toHaveLength(1);
    expect((await s.k.call("GET", `/ordermanagement/v1/orders/${klarnaOrderId}`)).data.refunds).toHaveLength(1);
  });
});

describe("POST /admin/klarna/refunds/:id/check", () => {
  it("finds a refund whose answer was lost on the Klarna order and settles the ledger row", async () => {
    const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
    // Klarna makes the refund, the answer never arrives (every retry too): the outcome is unknown.
    // (Klarna's order cannot be read either, or the plugin would settle it at once.)
    await loseRefundAnswers(s, 10);
    expect((await receive(s, ret.id, items)).status).toBe(400);
    await s.k.control("DELETE", "/faults");

    const { body: before } = ok(await s.admin().get(`/admin/klarna/orders/${order.id}`), "panel");
    const [row] = before.refunds;
    expect(row.status).toBe("unknown");
    expect(before.actions.check_refunds).toEqual([row.id]);
    expect(before.agreement.agrees).toBe(false);
    expect(before.agreement.findings.map((f: any) => f.kind)).toEqual(["klarna_refund_not_in_medusa", "refund_unsettled"]);
    expect(before.agreement.findings[0].suggested_action).toMatch(new RegExp(`^Receive return ${ret.id} again`));

    await s.k.control("DELETE", "/journal");
    const { body: check } = ok(await s.admin().post(`/admin/klarna/refunds/${row.id}/check`), "check");
    expect(await klarnaGets()).toHaveLength(1);
    const klarnaRefund = (await klarnaOrder(s, klarnaOrderId)).refunds[0];
    expect(check.found).toBe(true);
    expect(check.message).toBe(
      `Klarna made Return ${ret.id}: refund ${klarnaRefund.refund_id} of 26.18 EUR. Marked as succeeded; it will not be sent again.`,
    );
    expect(check.refund).toMatchObject({ id: row.id, status: "succeeded", klarna_refund_id: klarnaRefund.refund_id });

    // Receiving the return again records it in Medusa without a second Klarna refund.
    ok(await receive(s, ret.id, items), "receive again");
    const { body: after } = ok(await s.admin().get(`/admin/klarna/orders/${order.id}`), "panel");
    expect(after.agreement).toMatchObject({ klarna: { refunded: 2618 }, medusa: { refunded: 2618 }, agrees: true, findings: [] });
  });

  it("says so when Klarna has no such refund, and 404 for an unknown id", async () => {
    const { ret, items } = await orderWithReturn(s);
    await s.k.control("POST", "/faults", { method: "POST", path: "/ordermanagement/v1/orders/*/refunds", drop: "before", times: 10 });
    expect((await receive(s, ret.id, items)).status).toBe(400);
    await s.k.control("DELETE", "/faults");
    const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
    const { body: check } = ok(await s.admin().post(`/admin/klarna/refunds/${row.id}/check`), "check");
    expect(check.found).toBe(false);
    expect(check.message).toMatch(
      /has no refund with reference ret_\w+: Klarna has not made it\. Retrying it is safe: the retry reuses the same idempotency key/,
    );
    expect(check.refund.status).toBe("unknown");

    const missing = await s.admin().post(`/admin/klarna/refunds/not-a-ledger-id/check`);
    expect(missing.status).toBe(404);
  });
});

// Last: the emulator's clock only moves forward, and every order made later would start 29 days on.
describe("an authorisation Klarna let expire", () => {
  it("is shown expired, with no extension and no capture offered", async () => {
    const { completed } = await checkoutWithKlarna(s);
    const placed = ok(completed, "complete").body.data;
    await s.k.control("POST", "/clock", { advance_seconds: 29 * 24 * 3600 });
    const { body: panel } = ok(await s.admin().get(`/admin/klarna/orders/${placed.id}`), "panel");
    expect(panel.klarna).toMatchObject({ status: "EXPIRED", remaining_authorized_amount: 0, expiry: { state: "past", days_left: 0 } });
    expect(panel.actions).toMatchObject({ extend_authorization: false, retry_capture: false });
  });
});
