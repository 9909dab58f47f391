// @ts-check
// THE scripted checkout, shared by the demo, the benchmark, the chaos run and the tests, and the
// admin's next steps, all through Medusa's HTTP API:
//   checkout(...)      a shopper's cart → items → address → shipping → payment sessions → provider →
//                      (Klarna: the widget authorises at the emulator, the token is stored) → complete
//   placeOrder(...)    the same, insisting on an order
//   capture, fulfillAndShip, requestReturn, receiveReturn      the admin's steps after it
//   capturedOrderWithReturn(...)               the benchmark's and the chaos run's starting point
"use strict";

const { client } = require("./http");

/**
 * @typedef {{ variant_id: string, quantity: number }} CartItem
 * @typedef {{ item_id: string, quantity: number }} ReturnItem
 * @typedef {{ url: string, token: string }} Admin   the store and an admin's bearer token
 */

/**
 * @typedef {object} CheckoutOptions
 * @property {string} url                 the store
 * @property {import("./seed").Seed} seed
 * @property {"klarna" | "manual"} [provider]   default klarna
 * @property {string} [emulatorUrl]       where Klarna's widget authorises (the emulator); needed with klarna
 * @property {CartItem[]} [items]         default 2 × S and 1 × L
 * @property {string} [regionId]          default the seed's region
 * @property {string} [country]           default de
 * @property {string} [email]             default one customer per cart: parallel checkouts race on a shared one
 * @property {string} [discountCode]
 * @property {{ approved?: boolean, fraud_status?: "ACCEPTED" | "PENDING" | "REJECTED" }} [authorize]
 *   what the shopper does in Klarna's widget (the body of the emulator's authorise call)
 * @property {(auth: { authorization_token?: string }) => Promise<void>} [beforeComplete]
 *   runs after the widget's authorisation, before the cart is completed
 */

/**
 * @typedef {object} Checkout
 * @property {string} cartId
 * @property {any} cart              the cart once the provider is selected
 * @property {any} session           its payment session (Klarna's: data.session_id, data.client_token)
 * @property {any} auth              the widget's answer (authorization_token, ...); undefined with manual
 * @property {{ status: number, body: any }} completed   POST /store/carts/:id/complete, whatever its status
 */

/**
 * @param {CheckoutOptions} o
 * @returns {Promise<Checkout>}
 */
async function checkout({
  url,
  seed,
  provider = "klarna",
  emulatorUrl,
  items,
  regionId,
  country = "de",
  email,
  discountCode,
  authorize,
  beforeComplete,
}) {
  const store = client(url, { headers: { "x-publishable-api-key": seed.publishableApiKey } });
  let { data } = await store.post("/store/carts", { region_id: regionId ?? seed.region.id, country_code: country });
  const cartId = data.cart.id;
  const [small, large] = seed.variants;
  for (const item of items ?? [
    { variant_id: small.id, quantity: 2 },
    { variant_id: large.id, quantity: 1 },
  ]) {
    await store.post(`/store/carts/${cartId}/line-items`, item);
  }
  if (discountCode) await store.post(`/store/carts/${cartId}`, { discounts: [{ code: discountCode }] });
  await store.post(`/store/carts/${cartId}`, {
    email: email ?? `shopper+${cartId.slice(-10).toLowerCase()}@example.com`,
    shipping_address: {
      first_name: "Erika",
      last_name: "Mustermann",
      address_1: "Unter den Linden 1",
      city: "Berlin",
      postal_code: "10117",
      country_code: country,
    },
  });
  ({ data } = await store.get(`/store/shipping-options/${cartId}`));
  const option = data.shipping_options.find((/** @type {any} */ o) => !o.is_return);
  if (!option) throw new Error(`no shipping option for cart ${cartId}`);
  await store.post(`/store/carts/${cartId}/shipping-methods`, { option_id: option.id });
  await store.post(`/store/carts/${cartId}/payment-sessions`);
  ({ data } = await store.post(`/store/carts/${cartId}/payment-session`, { provider_id: provider }));
  const cart = data.cart;
  const session = cart.payment_session;
  let auth;
  if (provider === "klarna") {
    if (!emulatorUrl) throw new Error("checkout with klarna needs emulatorUrl: Klarna's widget authorises there");
    // What Klarna's widget does in the shopper's browser.
    ({ data: auth } = await client(emulatorUrl).post(`/_emulator/sessions/${session.data.session_id}/authorize`, authorize ?? {}));
    if (auth.authorization_token) {
      await store.post(`/store/carts/${cartId}/payment-sessions/klarna`, { data: { authorization_token: auth.authorization_token } });
    }
  }
  if (beforeComplete) await beforeComplete(auth ?? {});
  const res = await store.send("POST", `/store/carts/${cartId}/complete`, {});
  return { cartId, cart, session, auth, completed: { status: res.status, body: res.data } };
}

/**
 * A checkout that must end in an order.
 * @param {CheckoutOptions} o
 * @returns {Promise<{ order: any, cart: any, checkout: Checkout }>}
 */
async function placeOrder(o) {
  const done = await checkout(o);
  const { status, body } = done.completed;
  if (status >= 300 || body.type !== "order")
    throw new Error(`cart ${done.cartId} did not complete: HTTP ${status} ${JSON.stringify(body).slice(0, 500)}`);
  return { order: body.data, cart: done.cart, checkout: done };
}

/**
 * The admin captures the order's payment.
 * @param {Admin} admin
 * @param {string} orderId
 * @returns {Promise<any>} the order
 */
async function capture({ url, token }, orderId) {
  const { data } = await client(url, { token }).post(`/admin/orders/${orderId}/capture`);
  return data.order;
}

/**
 * The admin fulfils the order's items (those not fulfilled yet, unless `items` says which) and marks
 * the fulfillment shipped with a tracking number, as a warehouse would: Medusa's dashboard offers in
 * "Receive return" only items of shipped fulfillments (an unshipped order's dialog lists none).
 * @param {Admin} admin
 * @param {string} orderId
 * @param {{ items?: ReturnItem[], trackingNumber?: string }} [opts]
 * @returns {Promise<{ order: any, fulfillment: any, trackingNumber: string }>} the order, shipped
 */
async function fulfillAndShip({ url, token }, orderId, { items, trackingNumber } = {}) {
  const admin = client(url, { token });
  let { data } = await admin.get(`/admin/orders/${orderId}`);
  const toFulfil =
    items ??
    data.order.items
      .map((/** @type {any} */ i) => ({ item_id: i.id, quantity: i.quantity - (i.fulfilled_quantity ?? 0) }))
      .filter((/** @type {ReturnItem} */ i) => i.quantity > 0);
  const before = new Set((data.order.fulfillments ?? []).map((/** @type {any} */ f) => f.id));
  ({ data } = await admin.post(`/admin/orders/${orderId}/fulfillment`, { items: toFulfil, no_notification: true }));
  const created = data.order.fulfillments.find((/** @type {any} */ f) => !before.has(f.id));
  if (!created) throw new Error(`order ${orderId}: POST /admin/orders/:id/fulfillment made no fulfillment`);
  // A DHL-like number, unique per run.
  const tracking = trackingNumber ?? `JJD01460000${String(Date.now()).slice(-9)}`;
  ({ data } = await admin.post(`/admin/orders/${orderId}/shipment`, {
    fulfillment_id: created.id,
    tracking_numbers: [tracking],
    no_notification: true,
  }));
  const fulfillment = data.order.fulfillments.find((/** @type {any} */ f) => f.id === created.id);
  return { order: data.order, fulfillment, trackingNumber: tracking };
}

/**
 * The admin requests a return of `items`, with a priced return shipping option unless it is null.
 * @param {Admin} admin
 * @param {string} orderId
 * @param {ReturnItem[]} items
 * @param {{ option_id: string, price: number } | null} returnShipping
 * @returns {Promise<any>} the requested return
 */
async function requestReturn({ url, token }, orderId, items, returnShipping) {
  /** @type {Record<string, unknown>} */
  const body = { items };
  if (returnShipping) body.return_shipping = returnShipping;
  const { data } = await client(url, { token }).post(`/admin/orders/${orderId}/return`, body);
  return data.order.returns.find((/** @type {any} */ r) => r.status === "requested");
}

/**
 * POST /admin/returns/:id/receive, timed; resolves whatever the status.
 * @param {Admin} admin
 * @param {{ returnId: string, items: ReturnItem[] }} ret
 * @returns {Promise<{ status: number, body: any, ms: number }>}
 */
async function receiveReturn({ url, token }, ret) {
  const t = process.hrtime.bigint();
  const res = await client(url, { token }).send("POST", `/admin/returns/${ret.returnId}/receive`, { items: ret.items });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  return { status: res.status, body: res.data, ms };
}

/**
 * One order paid with `provider`, captured, with a requested return of one S T-shirt and the €3
 * return label: what a receive needs.
 * @param {{ url: string, seed: import("./seed").Seed, provider: "klarna" | "manual", emulatorUrl?: string }} o
 */
async function capturedOrderWithReturn({ url, seed, provider, emulatorUrl }) {
  const admin = { url, token: seed.token };
  const { order: placed } = await placeOrder({ url, seed, provider, emulatorUrl });
  const order = await capture(admin, placed.id);
  const item = order.items.find((/** @type {any} */ i) => i.variant_id === seed.variants[0].id);
  const items = [{ item_id: item.id, quantity: 1 }];
  const ret = await requestReturn(admin, order.id, items, { option_id: seed.returnShippingOption.id, price: 300 });
  return {
    provider,
    orderId: /** @type {string} */ (order.id),
    klarnaOrderId: provider === "klarna" ? /** @type {string} */ (order.payments[0].data.order_id) : null,
    returnId: /** @type {string} */ (ret.id),
    refundAmount: /** @type {number} */ (ret.refund_amount),
    items,
  };
}

module.exports = { checkout, placeOrder, capture, fulfillAndShip, requestReturn, receiveReturn, capturedOrderWithReturn };
