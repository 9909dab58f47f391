import { v4 as uuidv4 } from "uuid";
import { sumTotals } from "../../src/klarna/order-lines";
import klarnaAuthorizationExtension from "../../src/jobs/klarna-authorization-extension";
import { books, expectBooksAgree } from "../support/books";
import { capturedOrder, checkoutWithKlarna, freePort, ok, receive, requestReturn, useStore, waitFor } from "../support/store";

/**
 * The rest of an order's life with Klarna (issue 9), through a real Medusa 1.20 store on embedded
 * PostgreSQL and the emulator as Klarna: the authorisation's expiry and its extension, shipping info,
 * order edits before capture, cancel after capture, pending orders Klarna decides later, and refunds
 * allocated to the capture holding their items. Each test asserts what the admin or shopper sees and,
 * where money moves, that Klarna's books and Medusa's agree.
 *
 * The store's public URL is known before it boots (a free port), so Klarna's pending-order
 * notifications reach its /store/klarna/notifications over real HTTP.
 */
const s = useStore({
  prepare: async () => {
    const port = await freePort();
    return { port, pluginOptions: { backend_url: `http://127.0.0.1:${port}`, auto_extend_days_before_expiry: 30 } };
  },
});
const DAY_S = 24 * 3600;

beforeEach(async () => {
  await s.k.control("PATCH", "/settings", { notification_retry_delays_ms: [300, 1000] });
});

const S = () => s.seed.variants[0].id;
const L = () => s.seed.variants[1].id;
const journal = async () => (await s.k.control("GET", "/journal")).entries as any[];
const klarnaOrder = async (id: string) => (await s.k.call("GET", `/ordermanagement/v1/orders/${id}`)).data;
const payment = async (orderId: string) =>
  (await s.db.query(`SELECT id, amount, data, captured_at, canceled_at FROM payment WHERE order_id = $1`, [orderId]))[0];
const portalKey = () => ({ headers: { "Klarna-Idempotency-Key": uuidv4() } });

/** A shopper's order paid with Klarna, not captured. */
async function placedOrder(opts: Parameters<typeof checkoutWithKlarna>[1] = {}) {
  const { completed, cart } = await checkoutWithKlarna(s, opts);
  expect(completed.body.type).toBe("order");
  const order = completed.body.data;
  return { order, cart, klarnaOrderId: order.payments[0].data.order_id as string };
}

describe("the authorisation's expiry", () => {
  it("the placed order is read once: checked to be the cart's, and its expiry kept in the payment's data", async () => {
    const { order, cart, klarnaOrderId } = await placedOrder();
    const gets = (await journal()).filter((e) => e.method === "GET" && e.path === `/ordermanagement/v1/orders/${klarnaOrderId}`);
    expect(gets).toHaveLength(1);
    const k = await klarnaOrder(klarnaOrderId);
    expect(k).toMatchObject({ merchant_reference1: cart.id, order_amount: order.total, purchase_currency: "EUR" });
    expect((await payment(order.id)).data.expires_at).toBe(k.expires_at);
    expect(Date.parse(k.expires_at) - Date.parse(k.created_at)).toBe(28 * DAY_S * 1000);
  });

  it("a Klarna order that is not the cart's is refused: the shopper is told to choose Klarna again, and no order is made", async () => {
    // Klarna answers the purchase with an order that names another cart (as a replayed key would).
    const state = s.k.emulator.state;
    const createOrder = state.createOrder.bind(state);
    state.createOrder = (input) => createOrder({ ...input, merchant_reference1: "cart_someone_else" });
    let checkout;
    try {
      checkout = await checkoutWithKlarna(s);
    } finally {
      state.createOrder = createOrder;
    }
    expect(checkout.completed.status).toBe(400);
    expect(checkout.completed.body.message).toBe(
      "The Klarna payment does not match this cart. Please choose Klarna again to pay for this cart:\nNo money was taken",
    );
    expect(await s.db.query(`SELECT id FROM "order" WHERE cart_id = $1`, [checkout.cartId])).toEqual([]);
  });

  // Before any test moves Klarna's clock on: an order placed now expires within the option's 30 days.
  it("an order Klarna refuses to extend is not asked again by the job at that expiry; at a new expiry it is", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    const expiresAt = (await payment(order.id)).data.expires_at;
    const extendPath = `/ordermanagement/v1/orders/${klarnaOrderId}/extend-authorization-time`;
    // Klarna refuses this order's extension once; asked again, it would extend it.
    await s.k.control("POST", "/faults", {
      method: "POST",
      path: extendPath,
      status: 403,
      error_code: "NOT_ALLOWED",
      error_messages: ["Order expires 180 days after its creation already. Authorization time cannot be extended."],
    });
    const job = () => klarnaAuthorizationExtension({ container: s.container, data: {}, pluginOptions: {} } as any);
    const extensionsOfOrder = async () => (await journal()).filter((e) => e.method === "POST" && e.path === extendPath);

    await job();
    const [refused] = await extensionsOfOrder();
    expect(refused).toMatchObject({ outcome: "fault", response: { status: 403 } });
    expect((await payment(order.id)).data).toMatchObject({
      expires_at: expiresAt,
      authorization_extension_refused: {
        expires_at: expiresAt,
        message: "Order expires 180 days after its creation already. Authorization time cannot be extended.",
      },
    });

    // The next run leaves it alone: the refusal is remembered at this expiry.
    await job();
    expect(await extensionsOfOrder()).toHaveLength(1);
    expect((await klarnaOrder(klarnaOrderId)).expires_at).toBe(expiresAt);
    expect((await payment(order.id)).data.expires_at).toBe(expiresAt);

    // The admin extends it by hand: a new expiry, so a later run asks Klarna again.
    ok(await s.admin().post(`/admin/klarna/orders/${order.id}/extend-authorization`), "extend by hand");
    const extended = (await payment(order.id)).data;
    expect(extended.expires_at).not.toBe(expiresAt);
    expect(extended.authorization_extension_refused).toBeNull();
    await s.k.control("DELETE", "/journal");
    await job();
    const again = await extensionsOfOrder();
    expect(again).toHaveLength(1);
    expect(again[0].outcome).toBe("answered");
  });

  it("the job extends every uncaptured authorisation due within auto_extend_days_before_expiry once, leaves captured and cancelled ones, and runs do not collide", async () => {
    const due = await placedOrder();
    const captured = await capturedOrder(s);
    const cancelled = await placedOrder();
    ok(await s.admin().post(`/admin/orders/${cancelled.order.id}/cancel`), "cancel");
    // Ten days later at Klarna: the orders expire in 18 days there, within the 30 days of the option.
    await s.k.control("POST", "/clock", { advance_seconds: 10 * DAY_S });
    await s.k.control("DELETE", "/journal");
    const before = (await payment(due.order.id)).data.expires_at;

    const job = () => klarnaAuthorizationExtension({ container: s.container, data: {}, pluginOptions: {} } as any);
    await Promise.all([job(), job()]);
    const extensions = (await journal()).filter((e) => e.method === "POST" && e.path.endsWith("/extend-authorization-time"));
    const of = (id: string) => extensions.filter((e) => e.path.includes(id));
    expect(of(due.klarnaOrderId)).toHaveLength(1);
    expect(of(captured.klarnaOrderId)).toHaveLength(0);
    expect(of(cancelled.klarnaOrderId)).toHaveLength(0);
    const k = await klarnaOrder(due.klarnaOrderId);
    expect(Date.parse(k.expires_at) - Date.parse(before)).toBeGreaterThanOrEqual(10 * DAY_S * 1000 - 60_000);
    expect((await payment(due.order.id)).data.expires_at).toBe(k.expires_at);

    // The next run finds nothing due: the new expiry is beyond the window.
    await s.k.control("DELETE", "/journal");
    await job();
    expect((await journal()).filter((e) => e.path.endsWith("/extend-authorization-time"))).toEqual([]);
    await expectBooksAgree(s, captured.klarnaOrderId);
  });

  it("the admin extends an authorisation: the answer says until when, Klarna's expiry is stored; Klarna's refusal reads as a 400", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    await s.k.control("POST", "/clock", { advance_seconds: 5 * DAY_S });
    const res = await s.admin().post(`/admin/klarna/orders/${order.id}/extend-authorization`);
    expect(res.status).toBe(200);
    const k = await klarnaOrder(klarnaOrderId);
    expect(res.body).toEqual({
      message: `Klarna extended the authorisation: the order can be captured until ${k.expires_at.slice(0, 10)} (it was ${order.payments[0].data.expires_at.slice(0, 10)}).`,
      expires_at: k.expires_at,
    });
    expect((await payment(order.id)).data.expires_at).toBe(k.expires_at);

    const done = await capturedOrder(s);
    const refused = await s.admin().post(`/admin/klarna/orders/${done.order.id}/extend-authorization`);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(
      /^Klarna refused the authorisation extension: Order is fully captured\. Authorization time cannot be extended:\nKlarna NOT_ALLOWED, correlation [0-9a-f-]{36}, HTTP 403$/,
    );
    expect((await s.admin().post(`/admin/klarna/orders/order_unknown/extend-authorization`)).status).toBe(404);
    expect((await s.store().post(`/admin/klarna/orders/${order.id}/extend-authorization`)).status).toBe(401);
    await expectBooksAgree(s, done.klarnaOrderId);
  });

  it("capturing after the authorisation expired tells the admin so; nothing is captured on either side", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    await s.k.control("POST", "/clock", { advance_seconds: 29 * DAY_S });
    const k = await klarnaOrder(klarnaOrderId);
    expect(k.status).toBe("EXPIRED");
    const res = await s.admin().post(`/admin/orders/${order.id}/capture`);
    expect(res.status).toBe(400);
    expect(res.body.message).toBe(
      `Klarna's authorisation of this order expired on ${k.expires_at.slice(0, 10)}. Nothing was captured. Ask the shopper to pay again:\nklarna_order_id ${klarnaOrderId}`,
    );
    const after = await s.admin().get(`/admin/orders/${order.id}`);
    expect(after.body.order.payment_status).toBe("awaiting");
    expect((await journal()).filter((e) => e.method === "POST" && e.path.endsWith("/captures"))).toEqual([]);
    const extend = await s.admin().post(`/admin/klarna/orders/${order.id}/extend-authorization`);
    expect(extend.status).toBe(400);
    expect(extend.body.message).toMatch(/^Klarna refused the authorisation extension: Order is expired\. Authorization time cannot be extended/);
    await expectBooksAgree(s, klarnaOrderId);
  });
});

describe("shipping info", () => {
  async function fulfil(order: any) {
    const { body } = ok(
      await s
        .admin()
        .post(`/admin/orders/${order.id}/fulfillment`, { items: order.items.map((i: any) => ({ item_id: i.id, quantity: i.quantity })) }),
      "fulfil",
    );
    return body.order.fulfillments.at(-1).id as string;
  }
  const ship = (order: any, fulfillmentId: string, tracking: string[]) =>
    s.admin().post(`/admin/orders/${order.id}/shipment`, { fulfillment_id: fulfillmentId, tracking_numbers: tracking });
  const shippingInfoPosts = async () => (await journal()).filter((e) => e.method === "POST" && e.path.endsWith("/shipping-info"));

  it("a shipment with tracking numbers after the capture reaches Klarna's capture with the carrier, once", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    const fulfillmentId = await fulfil(order);
    const shipped = await ship(order, fulfillmentId, ["00340434161234567890", "00340434161234567891"]);
    expect(shipped.status).toBe(200);
    const capture = await waitFor(async () => {
      const c = (await klarnaOrder(klarnaOrderId)).captures[0];
      return c.shipping_info.length ? c : undefined;
    });
    expect(capture.shipping_info).toEqual([
      { shipping_company: "DHL Standard", tracking_number: "00340434161234567890" },
      { shipping_company: "DHL Standard", tracking_number: "00340434161234567891" },
    ]);
    const [post] = await shippingInfoPosts();
    expect(post.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);

    // The event delivered again (a redelivery, a second instance): nothing is sent twice.
    await s.container.resolve("eventBusService").emit("order.shipment_created", { id: order.id, fulfillment_id: fulfillmentId });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await shippingInfoPosts()).toHaveLength(1);
    expect((await klarnaOrder(klarnaOrderId)).captures[0].shipping_info).toHaveLength(2);
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("shipped before the capture: the capture carries the shipping info", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    expect((await ship(order, await fulfil(order), ["JJD0099887766"])).status).toBe(200);
    await new Promise((r) => setTimeout(r, 800)); // the subscriber finds no capture yet, and sends nothing
    expect(await shippingInfoPosts()).toEqual([]);
    ok(await s.admin().post(`/admin/orders/${order.id}/capture`), "capture");
    const [capture] = (await journal()).filter((e) => e.method === "POST" && e.path.endsWith("/captures"));
    expect(capture.body.shipping_info).toEqual([{ shipping_company: "DHL Standard", tracking_number: "JJD0099887766" }]);
    expect((await klarnaOrder(klarnaOrderId)).captures[0].shipping_info).toEqual(capture.body.shipping_info);
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("Klarna failing to take the shipping info never fails Medusa's shipment", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    await s.k.control("POST", "/faults", { method: "POST", path: "/ordermanagement/v1/orders/*/captures/*/shipping-info", status: 503, times: 10 });
    const fulfillmentId = await fulfil(order);
    const shipped = await ship(order, fulfillmentId, ["00340434160000000001"]);
    expect(shipped.status).toBe(200);
    await waitFor(async () => ((await shippingInfoPosts()).length >= 3 ? true : undefined));
    const [f] = await s.db.query(`SELECT shipped_at FROM fulfillment WHERE id = $1`, [fulfillmentId]);
    expect(f.shipped_at).not.toBeNull();
    expect((await klarnaOrder(klarnaOrderId)).captures[0].shipping_info).toEqual([]);
    await expectBooksAgree(s, klarnaOrderId);
  });
});

describe("order edits before capture change Klarna's authorisation", () => {
  async function edit(orderId: string, change: (editId: string, items: any[]) => Promise<unknown>) {
    const { body } = ok(await s.admin().post(`/admin/order-edits`, { order_id: orderId }), "order edit");
    await change(body.order_edit.id, body.order_edit.items);
    return body.order_edit.id as string;
  }
  const addLarge = (orderId: string) =>
    edit(orderId, async (id) => ok(await s.admin().post(`/admin/order-edits/${id}/items`, { variant_id: L(), quantity: 1 }), "add item"));
  const authorizationPatches = async () => (await journal()).filter((e) => e.method === "PATCH" && e.path.endsWith("/authorization"));

  it("an increase Klarna accepts: the edit is confirmed, Klarna authorises the new total with the new lines, and the capture takes it", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    const editId = await addLarge(order.id);
    const confirmed = await s.admin().post(`/admin/order-edits/${editId}/confirm`);
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.order_edit.status).toBe("confirmed");
    const total = (await s.admin().get(`/admin/orders/${order.id}`)).body.order.total;
    expect(total).toBe(order.total + 3570);

    const [patch] = await authorizationPatches();
    expect(patch.body.order_amount).toBe(total);
    expect(sumTotals(patch.body.order_lines)).toBe(total);
    const k = await klarnaOrder(klarnaOrderId);
    expect(k).toMatchObject({ order_amount: total, remaining_authorized_amount: total, original_order_amount: order.total });
    expect(k.order_lines.filter((l: any) => l.reference === "TEE-ORG-L").reduce((n: number, l: any) => n + l.quantity, 0)).toBe(2);
    expect(await payment(order.id)).toMatchObject({ amount: total });

    ok(await s.admin().post(`/admin/orders/${order.id}/capture`), "capture");
    expect((await klarnaOrder(klarnaOrderId)).captured_amount).toBe(total);
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("an increase Klarna refuses: the admin reads why, the edit is not confirmed anywhere, and a later confirm is asked afresh", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    // Klarna replaying a refusal for its key (unconfirmed) must not stick to the edit.
    await s.k.control("PATCH", "/settings", { authorization_increase: "refuse", replay_failed_requests: true });
    const editId = await addLarge(order.id);
    const res = await s.admin().post(`/admin/order-edits/${editId}/confirm`);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(
      new RegExp(
        "^Klarna refused the authorisation update: The increase was not approved by Klarna's risk assessment\\. Order authorization cannot be updated\\. " +
          "The order edit was not confirmed; Klarna's authorisation is unchanged\\. Keep the order as it is, or let the shopper pay the difference another way:\\n" +
          "Klarna NOT_ALLOWED, correlation [0-9a-f-]{36}, HTTP 403$",
      ),
    );
    expect((await s.admin().get(`/admin/order-edits/${editId}`)).body.order_edit.status).toBe("created");
    expect((await s.admin().get(`/admin/orders/${order.id}`)).body.order.total).toBe(order.total);
    expect((await klarnaOrder(klarnaOrderId)).order_amount).toBe(order.total);
    expect(await payment(order.id)).toMatchObject({ amount: order.total });

    // Klarna's risk check says yes later: the same edit confirms.
    await s.k.control("PATCH", "/settings", { authorization_increase: "accept" });
    expect((await s.admin().post(`/admin/order-edits/${editId}/confirm`)).status).toBe(200);
    expect((await klarnaOrder(klarnaOrderId)).order_amount).toBe(order.total + 3570);
    ok(await s.admin().post(`/admin/orders/${order.id}/capture`), "capture");
    expect((await klarnaOrder(klarnaOrderId)).captured_amount).toBe(order.total + 3570);
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("a decrease (an item removed): Klarna's authorisation follows, and the capture takes the smaller total", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    const large = order.items.find((i: any) => i.variant_id === L());
    const editId = await edit(order.id, async (id, items) => {
      const clone = items.find((i: any) => i.original_item_id === large.id);
      ok(await s.admin().delete(`/admin/order-edits/${id}/items/${clone.id}`), "remove item");
    });
    expect((await s.admin().post(`/admin/order-edits/${editId}/confirm`)).status).toBe(200);
    const total = order.total - 3570;
    const k = await klarnaOrder(klarnaOrderId);
    expect(k).toMatchObject({ order_amount: total, remaining_authorized_amount: total });
    expect(k.order_lines.map((l: any) => l.reference)).not.toContain("TEE-ORG-L");
    expect(await payment(order.id)).toMatchObject({ amount: total });

    ok(await s.admin().post(`/admin/orders/${order.id}/capture`), "capture");
    const after = await klarnaOrder(klarnaOrderId);
    expect(after).toMatchObject({ status: "CAPTURED", captured_amount: total });
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("the shopper completes an edit the admin requested: a decrease reaches Klarna; Klarna's refusal reads as a shopper's message; an increase paid separately is left alone", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    const large = order.items.find((i: any) => i.variant_id === L());
    const editId = await edit(order.id, async (id, items) => {
      const clone = items.find((i: any) => i.original_item_id === large.id);
      ok(await s.admin().delete(`/admin/order-edits/${id}/items/${clone.id}`), "remove item");
    });
    ok(await s.admin().post(`/admin/order-edits/${editId}/request`), "request confirmation");
    await s.k.control("POST", "/faults", {
      method: "PATCH",
      path: "/ordermanagement/v1/orders/*/authorization",
      status: 403,
      error_code: "NOT_ALLOWED",
      error_messages: ["Order authorization cannot be updated"],
    });
    const refused = await s.store().post(`/store/order-edits/${editId}/complete`);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe(
      "Klarna could not approve the new amount of your order. The change was not made; your order stays as it was:\nNo money was taken",
    );
    expect((await s.store().get(`/store/order-edits/${editId}`)).body.order_edit.status).toBe("requested");

    const done = await s.store().post(`/store/order-edits/${editId}/complete`);
    expect(done.status).toBe(200);
    const total = order.total - 3570;
    expect((await klarnaOrder(klarnaOrderId)).order_amount).toBe(total);
    expect(await payment(order.id)).toMatchObject({ amount: total });

    // An increase the admin asks the shopper to pay: Medusa makes a payment collection for the
    // difference, and completing the edit waits for it; Klarna's authorisation is not touched.
    const increase = await addLarge(order.id);
    const requested = ok(await s.admin().post(`/admin/order-edits/${increase}/request`), "request confirmation");
    expect(requested.body.order_edit.payment_collection_id).toEqual(expect.any(String));
    await s.k.control("DELETE", "/journal");
    const unpaid = await s.store().post(`/store/order-edits/${increase}/complete`);
    expect(unpaid.status).toBe(400);
    expect(unpaid.body.message).toBe("Unable to complete an order edit if the payment is not authorized");
    expect(await authorizationPatches()).toEqual([]);
    expect((await klarnaOrder(klarnaOrderId)).order_amount).toBe(total);

    ok(await s.admin().post(`/admin/orders/${order.id}/capture`), "capture");
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("a decrease below what Klarna has captured is Klarna's to refuse: the admin reads Klarna's reason", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    // The merchant captured 80.00 EUR in Klarna's portal.
    expect((await s.k.call("POST", `/ordermanagement/v1/orders/${klarnaOrderId}/captures`, { captured_amount: 8000 }, portalKey())).status).toBe(201);
    const large = order.items.find((i: any) => i.variant_id === L());
    const editId = await edit(order.id, async (id, items) => {
      const clone = items.find((i: any) => i.original_item_id === large.id);
      ok(await s.admin().delete(`/admin/order-edits/${id}/items/${clone.id}`), "remove item");
    });
    const res = await s.admin().post(`/admin/order-edits/${editId}/confirm`);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(
      new RegExp(
        `^Klarna refused the authorisation update: Resulting authorization amount ${order.total - 3570} cannot be less than the captured amount 8000 for order\\. Order authorization cannot be updated\\. The order edit was not confirmed`,
      ),
    );
    expect((await s.admin().get(`/admin/order-edits/${editId}`)).body.order_edit.status).toBe("created");
    expect((await klarnaOrder(klarnaOrderId)).order_amount).toBe(order.total);
  });

  it("Medusa's confirm failing after Klarna accepted the update: Klarna's authorisation is put back, and the edit is not confirmed", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    const before = await klarnaOrder(klarnaOrderId);
    const editId = await addLarge(order.id);
    // Medusa's confirm fails in its own transaction, after the plugin's middleware updated Klarna:
    // the edit's row cannot be marked confirmed.
    await s.db.query(`CREATE TABLE test_fail_edit_confirm (order_edit_id text PRIMARY KEY)`);
    await s.db.query(`
      CREATE FUNCTION test_fail_edit_confirm() RETURNS trigger AS $$
      BEGIN
        IF NEW.confirmed_at IS NOT NULL AND OLD.confirmed_at IS NULL
           AND EXISTS (SELECT 1 FROM test_fail_edit_confirm WHERE order_edit_id = NEW.id) THEN
          RAISE EXCEPTION 'forced failure of the order edit confirm';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await s.db.query(`CREATE TRIGGER test_fail_edit_confirm BEFORE UPDATE ON order_edit FOR EACH ROW EXECUTE FUNCTION test_fail_edit_confirm()`);
    await s.db.query(`INSERT INTO test_fail_edit_confirm VALUES ($1)`, [editId]);
    let failed;
    try {
      failed = await s.admin().post(`/admin/order-edits/${editId}/confirm`);
    } finally {
      await s.db.query(`DROP TRIGGER test_fail_edit_confirm ON order_edit`);
      await s.db.query(`DROP FUNCTION test_fail_edit_confirm()`);
      await s.db.query(`DROP TABLE test_fail_edit_confirm`);
    }
    expect(failed.status).toBe(500);

    // Klarna accepted the edited total, then was given back the order's own lines and total.
    const patches = await authorizationPatches();
    expect(patches.map((p) => p.body.order_amount)).toEqual([order.total + 3570, order.total]);
    expect(patches[1].body).toEqual({ order_amount: before.order_amount, order_lines: before.order_lines });
    const k = await klarnaOrder(klarnaOrderId);
    expect(k).toMatchObject({ order_amount: order.total, remaining_authorized_amount: order.total });
    expect(k.order_lines).toEqual(before.order_lines);
    const unconfirmed = (await s.admin().get(`/admin/order-edits/${editId}`)).body.order_edit;
    expect(unconfirmed).toMatchObject({ status: "created", confirmed_at: null });
    expect((await s.admin().get(`/admin/orders/${order.id}`)).body.order.total).toBe(order.total);
    expect(await payment(order.id)).toMatchObject({ amount: order.total });

    // Medusa works again: the same edit confirms, and Klarna authorises it.
    expect((await s.admin().post(`/admin/order-edits/${editId}/confirm`)).status).toBe(200);
    expect((await klarnaOrder(klarnaOrderId)).order_amount).toBe(order.total + 3570);
    ok(await s.admin().post(`/admin/orders/${order.id}/capture`), "capture");
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("an edit confirmed by code, not through the routes, does not reach Klarna: the plugin logs that", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    const editId = await addLarge(order.id);
    await s.k.control("DELETE", "/journal");
    const warn = jest.spyOn(s.container.resolve("logger"), "warn");
    const total = order.total + 3570;
    const lines = () => warn.mock.calls.map(([m]) => String(m)).filter((m) => m.includes(`after order edit ${editId}`));
    let logged: string[] | undefined;
    try {
      await s.container.resolve("orderEditService").confirm(editId);
      // The order-edit.confirmed event reaches the plugin's subscriber through Medusa's staged jobs.
      logged = await waitFor(() => (lines().length ? lines() : undefined), { timeout: 15_000 });
    } finally {
      warn.mockRestore();
    }
    expect(logged).toEqual([
      `klarna: order ${order.id} totals ${total} after order edit ${editId}, but Klarna order ${klarnaOrderId} authorises ${order.total} ` +
        `and Medusa's payment ${order.total}: confirm order edits through the admin route so the plugin updates Klarna's authorisation.`,
    ]);
    expect((await s.admin().get(`/admin/orders/${order.id}`)).body.order.total).toBe(total);
    expect(await authorizationPatches()).toEqual([]);
    expect(await klarnaOrder(klarnaOrderId)).toMatchObject({ order_amount: order.total, remaining_authorized_amount: order.total });
    expect(await payment(order.id)).toMatchObject({ amount: order.total });
  });
});

describe("cancel after a capture", () => {
  it("captured and not refunded: the cancel is refused with what to do, and nothing moves at Klarna", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    await s.k.control("DELETE", "/journal");
    const res = await s.admin().post(`/admin/orders/${order.id}/cancel`);
    expect(res.status).toBe(400);
    const total = (order.total / 100).toFixed(2);
    expect(res.body.message).toBe(
      `Klarna has captured ${total} EUR of this order and refunded 0.00 EUR: cancelling it would leave ${total} EUR with Klarna behind a canceled order. ` +
        `Nothing was cancelled. Refund the captured amount first, then cancel:\nklarna_order_id ${klarnaOrderId}`,
    );
    expect((await s.admin().get(`/admin/orders/${order.id}`)).body.order.status).toBe("pending");
    expect((await journal()).filter((e) => e.method === "POST")).toEqual([]);
    expect(await klarnaOrder(klarnaOrderId)).toMatchObject({ status: "CAPTURED", captured_amount: order.total });
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("captured and refunded in full: the payment cancels without a release Klarna would refuse", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    ok(await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: order.total, reason: "other" }), "refund");
    // Medusa 1.20's own rule stops the admin's cancel of an order with refunds, before any provider call.
    const res = await s.admin().post(`/admin/orders/${order.id}/cancel`);
    expect(res.status).toBe(400);
    expect(res.body.message).toBe("Order with refund(s) cannot be canceled");
    // Medusa's other paths cancel the payment itself (PaymentProviderService.cancelPayment): the plugin
    // sees Klarna's order fully captured and fully refunded, and sends nothing Klarna would refuse.
    await s.k.control("DELETE", "/journal");
    const manager = s.container.resolve("manager");
    const paymentProviderService = s.container.resolve("paymentProviderService");
    const [row] = await s.db.query(`SELECT id FROM payment WHERE order_id = $1`, [order.id]);
    await manager.transaction(async (m: any) => {
      const tx = paymentProviderService.withTransaction(m);
      await tx.cancelPayment(await tx.retrievePayment(row.id));
    });
    expect((await payment(order.id)).canceled_at).not.toBeNull();
    expect((await journal()).filter((e) => e.method === "POST")).toEqual([]);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna).toMatchObject({ captured: order.total, refunded: order.total });
  });
});

describe("pending orders Klarna decides later need no shopper action", () => {
  const notify = (orderId: string) =>
    s.store().post(`/store/klarna/notifications`, { order_id: orderId, event_id: uuidv4(), event_type: "FRAUD_RISK_ACCEPTED" });
  const ordersOfCart = (cartId: string) => s.db.query(`SELECT id FROM "order" WHERE cart_id = $1`, [cartId]);

  async function pendingCart() {
    const checkout = await checkoutWithKlarna(s, { authorize: { fraud_status: "PENDING" } });
    expect(checkout.completed.body.type).toBe("cart");
    const klarnaOrderId = checkout.completed.body.data.payment_session.data.order_id as string;
    return { cartId: checkout.cartId, klarnaOrderId };
  }

  it("accepted: Klarna's notification completes the waiting cart into an order", async () => {
    const { cartId, klarnaOrderId } = await pendingCart();
    const session = (await journal()).find((e) => e.method === "POST" && e.path === "/payments/v1/sessions");
    expect(session.body.merchant_urls).toEqual({ notification: `${s.url}/store/klarna/notifications` });

    const decided = await s.k.control("POST", `/orders/${klarnaOrderId}/fraud-decision`, { fraud_status: "ACCEPTED" });
    expect(decided.notification.url).toBe(`${s.url}/store/klarna/notifications`);
    const { notifications } = await s.k.control("GET", `/notifications?order_id=${klarnaOrderId}&wait_ms=10000`);
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({ state: "delivered", tries: [{ status_code: 200 }] });

    const [order] = await ordersOfCart(cartId);
    expect(order).toBeDefined();
    const { body } = await s.admin().get(`/admin/orders/${order.id}`);
    expect(body.order.payments[0].data).toMatchObject({ order_id: klarnaOrderId, fraud_status: "ACCEPTED" });
    expect(body.order.payment_status).toBe("awaiting");
    // The shopper coming back later finds the order, not a second one.
    const again = await s.store().post(`/store/carts/${cartId}/complete`);
    expect(again.body.type).toBe("order");
    expect(again.body.data.id).toBe(order.id);
    expect(await ordersOfCart(cartId)).toHaveLength(1);
    ok(await s.admin().post(`/admin/orders/${order.id}/capture`), "capture");
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("notified many times at once and again later: one order", async () => {
    const { cartId, klarnaOrderId } = await pendingCart();
    await s.k.control("POST", `/orders/${klarnaOrderId}/fraud-decision`, { fraud_status: "ACCEPTED" });
    const answers = await Promise.all(Array.from({ length: 6 }, () => notify(klarnaOrderId)));
    expect(answers.map((a) => [a.status, a.body])).toEqual(Array.from({ length: 6 }, () => [200, { received: true }]));
    await s.k.control("GET", `/notifications?order_id=${klarnaOrderId}&wait_ms=10000`);
    expect((await notify(klarnaOrderId)).status).toBe(200);
    expect(await ordersOfCart(cartId)).toHaveLength(1);
    expect(await s.db.query(`SELECT id FROM payment WHERE cart_id = $1`, [cartId])).toHaveLength(1);
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("Klarna unreachable: the notification is answered 500, Klarna sends it again, and once Klarna answers the cart completes into one order", async () => {
    const { cartId, klarnaOrderId } = await pendingCart();
    await s.k.control("DELETE", "/journal");
    // Time between Klarna's tries for the test to bring Klarna back.
    await s.k.control("PATCH", "/settings", { notification_retry_delays_ms: [1500, 1500] });
    // Klarna's Order Management cannot be reached: every read of the order loses its connection.
    const orderPath = `/ordermanagement/v1/orders/${klarnaOrderId}`;
    await s.k.control("POST", "/faults", { method: "GET", path: orderPath, drop: "before", times: 100 });
    await s.k.control("POST", `/orders/${klarnaOrderId}/fraud-decision`, { fraud_status: "ACCEPTED" });
    const first = await waitFor(async () => {
      const { notifications } = await s.k.control("GET", `/notifications?order_id=${klarnaOrderId}`);
      return notifications[0]?.tries.length ? notifications[0] : undefined;
    });
    expect(first).toMatchObject({ state: "pending", tries: [{ status_code: 500 }] });
    const direct = await notify(klarnaOrderId);
    expect(direct.status).toBe(500);
    expect(direct.body).toEqual({ type: "unexpected_state", message: "The notification could not be processed now. Send it again later." });
    const reads = (await journal()).filter((e) => e.method === "GET" && e.path === orderPath);
    expect(reads.length).toBeGreaterThanOrEqual(2);
    expect(reads.every((e) => e.outcome === "dropped_before")).toBe(true);
    expect(await ordersOfCart(cartId)).toEqual([]);

    // Klarna answers again: its next try of the same notification completes the cart.
    await s.k.control("DELETE", "/faults");
    const { notifications } = await s.k.control("GET", `/notifications?order_id=${klarnaOrderId}&wait_ms=10000`);
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({ state: "delivered", tries: [{ status_code: 500 }, { status_code: 200 }] });
    const orders = await ordersOfCart(cartId);
    expect(orders).toHaveLength(1);
    expect((await payment(orders[0].id)).data).toMatchObject({ order_id: klarnaOrderId, fraud_status: "ACCEPTED" });
    expect(await s.db.query(`SELECT id FROM payment WHERE cart_id = $1`, [cartId])).toHaveLength(1);
    await expectBooksAgree(s, klarnaOrderId);
  });

  for (const decision of ["REJECTED", "STOPPED"] as const) {
    it(`${decision.toLowerCase()}: the cart stays not completed, nothing stays authorised, and the shopper is told`, async () => {
      const { cartId, klarnaOrderId } = await pendingCart();
      await s.k.control("POST", `/orders/${klarnaOrderId}/fraud-decision`, { fraud_status: decision });
      const { notifications } = await s.k.control("GET", `/notifications?order_id=${klarnaOrderId}&wait_ms=10000`);
      expect(notifications[0]).toMatchObject({ event_type: `FRAUD_RISK_${decision}`, state: "delivered" });
      expect(await ordersOfCart(cartId)).toEqual([]);
      expect(await klarnaOrder(klarnaOrderId)).toMatchObject({ status: "CANCELLED", remaining_authorized_amount: 0 });
      const completed = await s.store().post(`/store/carts/${cartId}/complete`);
      expect(completed.status).toBe(400);
      expect(completed.body.message).toBe("Klarna could not approve this purchase. Please choose another payment method:\nNo money was taken");
      expect(await ordersOfCart(cartId)).toEqual([]);
    });
  }

  it("stopped after the order was made: recorded on the payment, and the capture is refused", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    await s.k.control("POST", `/orders/${klarnaOrderId}/fraud-decision`, { fraud_status: "STOPPED" });
    await s.k.control("GET", `/notifications?order_id=${klarnaOrderId}&wait_ms=10000`);
    expect((await payment(order.id)).data).toMatchObject({ fraud_status: "REJECTED", fraud_decided_at: expect.any(String) });
    const capture = await s.admin().post(`/admin/orders/${order.id}/capture`);
    expect(capture.status).toBe(400);
    expect(capture.body.message).toBe(`The Klarna order is CANCELLED. Nothing was captured:\nklarna_order_id ${klarnaOrderId}`);
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("a notification of an order this store did not place, or of no order at all, is answered the same and asks Klarna nothing", async () => {
    const elsewhere = await s.k.createOrder({ captured: false });
    for (const id of [uuidv4(), elsewhere]) {
      const res = await notify(id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: true });
    }
    expect(await journal()).toEqual([]);
    const malformed = await s.store().post(`/store/klarna/notifications`, { order_id: { $ne: 1 } });
    expect(malformed.status).toBe(400);
  });
});

describe("refunds are allocated to the capture holding their items", () => {
  it("an order captured in two parts: each return's refund goes to the invoice of its items", async () => {
    const { order, klarnaOrderId } = await placedOrder();
    const k = await klarnaOrder(klarnaOrderId);
    const large = k.order_lines.find((l: any) => l.reference === "TEE-ORG-L");
    // The first parcel (the L shirt) was captured in Klarna's portal; the admin captures the rest in Medusa.
    expect(
      (
        await s.k.call(
          "POST",
          `/ordermanagement/v1/orders/${klarnaOrderId}/captures`,
          { captured_amount: large.total_amount, order_lines: [large] },
          portalKey(),
        )
      ).status,
    ).toBe(201);
    await s.k.control("DELETE", "/journal");
    ok(await s.admin().post(`/admin/orders/${order.id}/capture`), "capture");
    const [rest] = (await journal()).filter((e) => e.method === "POST" && e.path.endsWith("/captures"));
    expect(rest.body.captured_amount).toBe(order.total - large.total_amount);
    expect(rest.body.order_lines.map((l: any) => [l.reference, l.quantity])).toEqual([
      ["TEE-ORG-S", 2],
      [undefined, 1],
    ]);

    const itemOf = (variant: string) => order.items.find((i: any) => i.variant_id === variant);
    for (const variant of [L(), S()]) {
      const items = [{ item_id: itemOf(variant).id, quantity: 1 }];
      const ret = await requestReturn(s, order, items);
      expect((await receive(s, ret.id, items)).status).toBe(200);
    }
    const captures = (await s.k.call("GET", `/ordermanagement/v1/orders/${klarnaOrderId}/captures`)).data;
    // L 35.70 less the 3.57 return label; S 29.75 less the label.
    expect(captures.map((c: any) => [c.order_lines.map((l: any) => l.reference).filter(Boolean), c.refunded_amount])).toEqual([
      [["TEE-ORG-L"], 3213],
      [["TEE-ORG-S"], 2618],
    ]);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds.map((r) => r.refunded_amount)).toEqual([3213, 2618]);
    expect((await books(s, klarnaOrderId)).medusa.captured).toBe(order.total);
  });
});
