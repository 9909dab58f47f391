// Store stories driven through Medusa's HTTP API, shared by the benchmark and the chaos run:
// a shopper checks out (with Klarna or with the manual provider), the admin captures, a return is
// requested with the priced return shipping option.
"use strict"

const h = require("./harness")

/** Runs fn over items with at most `limit` at once; results in input order. */
async function pool(items, limit, fn) {
  const out = new Array(items.length)
  let next = 0
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  })
  await Promise.all(workers)
  return out
}

/** What a Klarna widget does in the browser: authorise the session at the emulator. */
async function authorizeAtEmulator(emulatorUrl, sessionId) {
  const res = await fetch(`${emulatorUrl}/_emulator/sessions/${sessionId}/authorize`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  })
  const body = await res.json()
  if (!body.authorization_token) throw new Error(`emulator refused to authorise: ${JSON.stringify(body)}`)
  return body.authorization_token
}

/**
 * One order paid with `provider` ("klarna" or "manual"), captured, with a requested return of one
 * T-shirt and the priced return label. Returns the ids a receive needs.
 */
async function capturedOrderWithReturn({ url, seed, provider, emulatorUrl }) {
  const store = h.client(url)
  const admin = h.client(url, { token: seed.token })
  const pk = { "x-publishable-api-key": seed.publishableApiKey }
  const [small, large] = seed.variants
  let { data } = await store.post("/store/carts", { region_id: seed.region.id, country_code: "de" }, pk)
  const cartId = data.cart.id
  await store.post(`/store/carts/${cartId}/line-items`, { variant_id: small.id, quantity: 2 }, pk)
  await store.post(`/store/carts/${cartId}/line-items`, { variant_id: large.id, quantity: 1 }, pk)
  await store.post(`/store/carts/${cartId}`, {
    email: `shopper+${cartId.slice(-10).toLowerCase()}@example.com`, // one customer per order: parallel checkouts race on a shared one
    shipping_address: { first_name: "Erika", last_name: "Mustermann", address_1: "Unter den Linden 1", city: "Berlin", postal_code: "10117", country_code: "de" },
  }, pk)
  ;({ data } = await store.get(`/store/shipping-options/${cartId}`, pk))
  await store.post(`/store/carts/${cartId}/shipping-methods`, { option_id: data.shipping_options.find((o) => !o.is_return).id }, pk)
  await store.post(`/store/carts/${cartId}/payment-sessions`, {}, pk)
  ;({ data } = await store.post(`/store/carts/${cartId}/payment-session`, { provider_id: provider }, pk))
  if (provider === "klarna") {
    const token = await authorizeAtEmulator(emulatorUrl, data.cart.payment_session.data.session_id)
    await store.post(`/store/carts/${cartId}/payment-sessions/klarna`, { data: { authorization_token: token } }, pk)
  }
  ;({ data } = await store.post(`/store/carts/${cartId}/complete`, {}, pk))
  if (data.type !== "order") throw new Error(`cart ${cartId} did not complete: ${JSON.stringify(data).slice(0, 300)}`)
  const orderId = data.data.id
  ;({ data } = await admin.post(`/admin/orders/${orderId}/capture`))
  const order = data.order
  const item = order.items.find((i) => i.variant_id === small.id)
  ;({ data } = await admin.post(`/admin/orders/${orderId}/return`, {
    items: [{ item_id: item.id, quantity: 1 }],
    return_shipping: { option_id: seed.returnShippingOption.id, price: 300 },
  }))
  const ret = data.order.returns.find((r) => r.status === "requested")
  return {
    provider,
    orderId,
    klarnaOrderId: provider === "klarna" ? order.payments[0].data.order_id : null,
    returnId: ret.id,
    refundAmount: ret.refund_amount,
    items: [{ item_id: item.id, quantity: 1 }],
  }
}

/** POST /admin/returns/:id/receive; resolves to { status, body, ms } whatever the status. */
async function receiveReturn({ url, token }, ret) {
  const t = process.hrtime.bigint()
  const res = await fetch(`${url}/admin/returns/${ret.returnId}/receive`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ items: ret.items }),
  })
  const text = await res.text()
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  let body
  try {
    body = JSON.parse(text)
  } catch (_) {
    body = text
  }
  return { status: res.status, body, ms }
}

module.exports = { pool, authorizeAtEmulator, capturedOrderWithReturn, receiveReturn }
