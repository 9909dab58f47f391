import { sumTotals } from "../../src/klarna/order-lines";
import { capturedOrder, checkoutWithKlarna, klarnaOrder, useStore } from "../support/store";

/**
 * A real Medusa 1.20 store with the plugin, on embedded PostgreSQL, the emulator as Klarna: a shopper
 * checks out with Klarna and the admin captures or cancels, all through Medusa's HTTP API.
 */
const s = useStore();

const journal = async () => (await s.k.control("GET", "/journal")).entries as any[];

describe("checkout with Klarna", () => {
  it("creates a Klarna session from the cart, places the order on completion, and the Klarna order matches the cart", async () => {
    const { completed, cart, session } = await checkoutWithKlarna(s);
    expect(completed.status).toBe(200);
    expect(completed.body.type).toBe("order");
    const order = completed.body.data;

    // The session the storefront gets: what Klarna's widget needs.
    expect(session.provider_id).toBe("klarna");
    expect(session.data.client_token).toEqual(expect.any(String));
    expect(session.data.payment_method_categories.map((c: any) => c.identifier)).toContain("pay_later");

    const sessionPost = (await journal()).find((e) => e.method === "POST" && e.path === "/payments/v1/sessions");
    const body = sessionPost.body;
    expect(body).toMatchObject({
      purchase_country: "DE",
      purchase_currency: "EUR",
      locale: "en-DE",
      order_amount: cart.total,
      merchant_reference1: cart.id,
    });
    expect(sumTotals(body.order_lines)).toBe(cart.total);
    expect(body.order_lines.map((l: any) => [l.type, l.reference, l.quantity, l.tax_rate])).toEqual([
      ["physical", "TEE-ORG-S", 2, 1900],
      ["physical", "TEE-ORG-L", 1, 1900],
      ["shipping_fee", undefined, 1, 1900],
    ]);
    // 2500 net + 19 % = 2975 per unit
    expect(body.order_lines[0]).toMatchObject({ unit_price: 2975, total_amount: 5950, total_tax_amount: 950 });

    const place = (await journal()).find((e) => e.method === "POST" && /^\/payments\/v1\/authorizations\/[^/]+\/order$/.test(e.path));
    expect(place.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);
    const payment = order.payments[0];
    expect(payment.provider_id).toBe("klarna");
    const atKlarna = await klarnaOrder(s, payment.data.order_id);
    expect(atKlarna).toMatchObject({ status: "AUTHORIZED", order_amount: order.total, merchant_reference1: cart.id, purchase_country: "DE" });
    expect(atKlarna.order_lines).toEqual(body.order_lines);
    expect(payment.data).toMatchObject({ order_id: atKlarna.order_id, fraud_status: "ACCEPTED", purchase_country: "DE", capture_count: 0 });
  });

  it("keeps the session in step when the cart changes", async () => {
    const st = s.store();
    const { cartId } = await checkoutWithKlarna(s, { authorize: { approved: false } }).then(async (r) => {
      // the shopper was refused by the widget and goes back to add an item
      await st.post(`/store/carts/${r.cartId}/line-items`, { variant_id: s.seed.variants[1].id, quantity: 1 });
      await st.post(`/store/carts/${r.cartId}/payment-sessions`);
      return r;
    });
    const { body } = await st.get(`/store/carts/${cartId}`);
    const updates = (await journal()).filter((e) => e.method === "POST" && /^\/payments\/v1\/sessions\/[^/]+$/.test(e.path));
    expect(updates.length).toBeGreaterThan(0);
    expect(updates.at(-1).body.order_amount).toBe(body.cart.total);
    expect(sumTotals(updates.at(-1).body.order_lines)).toBe(body.cart.total);
  });

  it("without an authorization token the cart does not complete and no Klarna order exists", async () => {
    const { completed } = await checkoutWithKlarna(s, { authorize: { approved: false } });
    expect(completed.body.type).not.toBe("order");
    expect((await journal()).filter((e) => e.path.endsWith("/order"))).toEqual([]);
  });

  it("a refused authorisation reaches the shopper as a readable 4xx and leaves no order", async () => {
    const { cartId, completed } = await checkoutWithKlarna(s, {
      // Klarna withdraws the authorisation before the order is placed.
      beforeComplete: async (auth) => {
        await s.k.call("DELETE", `/payments/v1/authorizations/${auth.authorization_token}`);
      },
    });
    expect(completed.status).toBeGreaterThanOrEqual(400);
    expect(completed.status).toBeLessThan(500);
    // The shopper reads what happened and what to do, nothing internal.
    expect(completed.body.message).toBe(
      "Klarna could not confirm this purchase. Please choose Klarna again to confirm it, or choose another payment method:\nNo money was taken",
    );
    const { body } = await s.store().get(`/store/carts/${cartId}`);
    expect(body.cart.completed_at).toBeNull();
    expect((await journal()).filter((e) => e.path.endsWith("/order") && e.response?.status === 200)).toEqual([]);
  });
});

describe("a Klarna outage at checkout", () => {
  it("the shopper can still pay another way; only picking Klarna gets a readable error, and Klarna works again once it answers", async () => {
    const st = s.store();
    const outage = async () => {
      await s.k.control("POST", "/faults", { path: "/payments/v1/sessions", status: 503, times: 100 });
      await s.k.control("POST", "/faults", { path: "/payments/v1/sessions/*", status: 503, times: 100 });
      await s.k.control("POST", "/faults", { path: "/payments/v1/authorizations/*", status: 503, times: 100 });
    };
    // A shopper picked Klarna, then Klarna went down while the cart kept changing.
    const first = await checkoutWithKlarna(s, { authorize: { approved: false } });
    await outage();
    expect((await st.post(`/store/carts/${first.cartId}/line-items`, { variant_id: s.seed.variants[1].id, quantity: 1 })).status).toBe(200);
    expect((await st.post(`/store/carts/${first.cartId}/payment-sessions`)).status).toBe(200);
    expect((await st.post(`/store/carts/${first.cartId}/payment-session`, { provider_id: "manual" })).status).toBe(200);
    const paid = await st.post(`/store/carts/${first.cartId}/complete`);
    expect(paid.status).toBe(200);
    expect(paid.body.type).toBe("order");
    expect(paid.body.data.payments[0].provider_id).toBe("manual");

    // A new shopper during the outage: picking Klarna is refused readably, the manual provider works.
    const { body: created } = await st.post("/store/carts", { region_id: s.seed.region.id, country_code: "de" });
    const cartId = created.cart.id;
    await st.post(`/store/carts/${cartId}/line-items`, { variant_id: s.seed.variants[0].id, quantity: 1 });
    await st.post(`/store/carts/${cartId}`, {
      email: "outage@example.com",
      shipping_address: { first_name: "A", last_name: "B", address_1: "C 1", city: "Berlin", postal_code: "10117", country_code: "de" },
    });
    const { body: options } = await st.get(`/store/shipping-options/${cartId}`);
    await st.post(`/store/carts/${cartId}/shipping-methods`, { option_id: options.shipping_options.find((o: any) => !o.is_return).id });
    expect((await st.post(`/store/carts/${cartId}/payment-sessions`)).status).toBe(200);
    const klarna = await st.post(`/store/carts/${cartId}/payment-session`, { provider_id: "klarna" });
    expect(klarna.status).toBe(400);
    expect(klarna.body.message).toBe(
      "Klarna is not available right now. Please try again in a few minutes, or choose another payment method:\nNo money was taken",
    );
    expect((await st.post(`/store/carts/${cartId}/payment-session`, { provider_id: "manual" })).status).toBe(200);

    // Klarna answers again: its session is made when the shopper picks it.
    await s.k.control("DELETE", "/faults");
    const back = await st.post(`/store/carts/${cartId}/payment-session`, { provider_id: "klarna" });
    expect(back.status).toBe(200);
    expect(back.body.cart.payment_session.data.client_token).toEqual(expect.any(String));
  });
});

describe("Klarna's fraud decision", () => {
  it("PENDING: the cart waits; once Klarna's review accepts, completing again creates the order", async () => {
    const { completed, cartId } = await checkoutWithKlarna(s, { authorize: { fraud_status: "PENDING" } });
    expect(completed.status).toBe(200);
    expect(completed.body.type).toBe("cart"); // Medusa keeps the cart while the payment is pending
    expect(completed.body.data.payment_session.status).toBe("pending");
    const klarnaOrderId = completed.body.data.payment_session.data.order_id;
    expect((await klarnaOrder(s, klarnaOrderId)).fraud_status).toBe("PENDING");

    await s.k.control("POST", `/orders/${klarnaOrderId}/fraud-decision`, { fraud_status: "ACCEPTED" });
    const again = await s.store().post(`/store/carts/${cartId}/complete`);
    expect(again.status).toBe(200);
    expect(again.body.type).toBe("order");
    expect(again.body.data.payments[0].data).toMatchObject({ order_id: klarnaOrderId, fraud_status: "ACCEPTED" });
    // One Klarna order: the second completion did not place another.
    expect((await journal()).filter((e) => e.path.endsWith("/order") && e.method === "POST")).toHaveLength(1);
  });

  it("REJECTED: the shopper gets a readable 4xx and no order is created", async () => {
    const { completed, cartId } = await checkoutWithKlarna(s, { authorize: { fraud_status: "REJECTED" } });
    expect(completed.status).toBeGreaterThanOrEqual(400);
    expect(completed.status).toBeLessThan(500);
    expect(completed.body.message).toBe("Klarna could not approve this purchase. Please choose another payment method:\nNo money was taken");
    const { body } = await s.store().get(`/store/carts/${cartId}`);
    expect(body.cart.completed_at).toBeNull();
  });
});

describe("after the order", () => {
  it("the admin captures: one Klarna capture of the whole order with its lines, recorded in payment data", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    expect(order.payment_status).toBe("captured");
    const caps = (await journal()).filter((e) => e.method === "POST" && e.path.endsWith("/captures"));
    expect(caps).toHaveLength(1);
    expect(caps[0].idempotency_key).toMatch(/^[0-9a-f-]{36}$/);
    expect(caps[0].body.captured_amount).toBe(order.total);
    expect(sumTotals(caps[0].body.order_lines)).toBe(order.total);
    const k = await klarnaOrder(s, klarnaOrderId);
    expect(k).toMatchObject({ status: "CAPTURED", captured_amount: order.total, remaining_authorized_amount: 0 });
    expect(order.payments[0].data).toMatchObject({ capture_count: 1, captured_amount: order.total });
  });

  it("a Klarna outage during capture answers 400 with Klarna's message, captures nothing, and a later capture works", async () => {
    const { completed } = await checkoutWithKlarna(s);
    const order = completed.body.data;
    await s.k.control("POST", "/faults", { method: "POST", path: "/ordermanagement/v1/orders/*/captures", status: 503, times: 3 });
    const res = await s.admin().post(`/admin/orders/${order.id}/capture`);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^Klarna did not confirm the capture: Temporarily unavailable/);
    expect(res.body.message).toMatch(/TEMPORARILY_UNAVAILABLE/);
    const before = await s.admin().get(`/admin/orders/${order.id}`);
    // Medusa marks a failed capture "requires_action", which hides the dashboard's capture button:
    // the plugin puts the order back to "awaiting", so the admin can capture again.
    expect(before.body.order.payment_status).toBe("awaiting");
    expect(before.body.order.payments[0].captured_at).toBeNull();
    const klarnaOrderId = before.body.order.payments[0].data.order_id;
    expect((await klarnaOrder(s, klarnaOrderId)).captured_amount).toBe(0);

    const again = await s.admin().post(`/admin/orders/${order.id}/capture`);
    expect(again.status).toBe(200);
    expect(again.body.order.payment_status).toBe("captured");
    expect((await klarnaOrder(s, klarnaOrderId)).captures).toHaveLength(1);
  });

  it("cancel before capture cancels the Klarna order", async () => {
    const { completed } = await checkoutWithKlarna(s);
    const order = completed.body.data;
    const res = await s.admin().post(`/admin/orders/${order.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body.order.status).toBe("canceled");
    const k = await klarnaOrder(s, order.payments[0].data.order_id);
    expect(k.status).toBe("CANCELLED");
  });

  it("a refund Klarna refuses reaches the admin as 400 with Klarna's words and codes, never 500", async () => {
    const { order } = await capturedOrder(s);
    const res = await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 100, reason: "other" });
    expect(res.status).toBe(200);
    // Klarna's side: refund more than captured by refunding again through a second capture-less order
    await s.k.control("POST", "/faults", {
      method: "POST",
      path: "/ordermanagement/v1/orders/*/refunds",
      status: 403,
      error_code: "REFUND_NOT_ALLOWED",
      error_messages: ["Over refund is not allowed. Refund not possible."],
    });
    const refused = await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 200, reason: "other" });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(
      /^Klarna refused the refund: Over refund is not allowed\. Refund not possible\. The amount is more than what is captured and not yet refunded at Klarna:\nKlarna REFUND_NOT_ALLOWED, correlation [0-9a-f-]{36}, HTTP 403$/,
    );
    const after = await s.admin().get(`/admin/orders/${order.id}?expand=refunds`);
    expect(after.body.order.refunds).toHaveLength(1);
  });
});
