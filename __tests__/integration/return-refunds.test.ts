import { sumTotals } from "../../src/klarna/order-lines";
import {
  addPercentageDiscount,
  addReducedRateProduct,
  addUsRegion,
  capturedOrder,
  checkoutWithKlarna,
  itemOf,
  klarnaOrder,
  klarnaPosts,
  ledgerRows,
  receive,
  requestReturn,
  useStore,
  waitFor,
} from "../support/store";

/**
 * Receiving a return refunds it at Klarna with one line per returned item and the return-shipping
 * charge as a return_fee line, adding up to what Medusa refunds. Real store, real PostgreSQL, the
 * emulator as Klarna; assertions on the emulator's journal.
 */
const s = useStore();

const S = () => s.seed.variants[0].id;
const L = () => s.seed.variants[1].id;

describe("a DE return with the priced return shipping option", () => {
  it("refunds once: the item line and a return_fee line adding up to the amount, with the ledger's key", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    const tee = itemOf(order, S());
    const ret = await requestReturn(s, order, [{ item_id: tee.id, quantity: 1 }]);
    expect(ret.refund_amount).toBe(2975 - 357); // Medusa: item incl. 19 % VAT minus return label incl. VAT

    const res = await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }]);
    expect(res.status).toBe(200);
    const posts = await klarnaPosts(s, "/refunds");
    expect(posts).toHaveLength(1);
    const body = posts[0].body;
    expect(body).toEqual({
      refunded_amount: 2618,
      reference: ret.id,
      description: `Refund for your return from order #${order.display_id}`,
      order_lines: [
        {
          type: "physical",
          reference: "TEE-ORG-S",
          name: "Organic Cotton T-Shirt, S",
          quantity: 1,
          unit_price: 2975,
          tax_rate: 1900,
          total_amount: 2975,
          total_tax_amount: 475,
        },
        {
          type: "return_fee",
          reference: "return-fee",
          name: "DHL Return label",
          quantity: 1,
          unit_price: -357,
          tax_rate: 1900,
          total_amount: -357,
          total_tax_amount: -57,
        },
      ],
    });
    const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
    expect(row).toMatchObject({ status: "succeeded", amount: 2618, intent: `return:${ret.id}`, source: "request:receive-return", attempts: 1 });
    expect(posts[0].idempotency_key).toBe(row.idempotency_key);
    expect(row.klarna_refund_id).toBe(posts[0].response.headers["Refund-Id"]);
    expect(JSON.stringify(row)).not.toContain(s.k.emulator.state.settings.password);

    const after = await s.admin().get(`/admin/orders/${order.id}?expand=refunds,payments`);
    expect(after.body.order.refunds.map((r: any) => [r.amount, r.reason])).toEqual([[2618, "return"]]);
    expect(after.body.order.payments[0].data.refunds).toEqual([
      { klarna_refund_id: row.klarna_refund_id, amount: 2618, intent: `return:${ret.id}`, idempotency_key: row.idempotency_key },
    ]);
    expect((await klarnaOrder(s, klarnaOrderId)).refunded_amount).toBe(2618);

    // After the commit, a subscriber mirrors the key and the refund id into the return's metadata.
    const metadata = await waitFor(async () => {
      const [r] = await s.db.query(`SELECT metadata FROM "return" WHERE id = $1`, [ret.id]);
      return r.metadata?.klarna;
    });
    expect(metadata).toMatchObject({
      refund_id: row.klarna_refund_id,
      idempotency_key: row.idempotency_key,
      klarna_order_id: klarnaOrderId,
      status: "succeeded",
      return_fee: { amount: 357, line_type: "return_fee" },
    });
  });

  it("follows the admin's edited refund, down (the fee stays the label's, the rest an adjustment) and up (an extra line), always adding up", async () => {
    for (const [delta, expected] of [
      [
        -100,
        [
          ["physical", 2975],
          ["return_fee", -357],
          ["discount", -100],
        ],
      ],
      [
        +557,
        [
          ["physical", 2975],
          [null, 200],
        ],
      ],
    ] as const) {
      await s.k.control("DELETE", "/journal");
      const { order } = await capturedOrder(s);
      const tee = itemOf(order, S());
      const ret = await requestReturn(s, order, [{ item_id: tee.id, quantity: 1 }]);
      const res = await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }], ret.refund_amount + delta);
      expect(res.status).toBe(200);
      const [post] = await klarnaPosts(s, "/refunds");
      expect(post.body.refunded_amount).toBe(ret.refund_amount + delta);
      expect(sumTotals(post.body.order_lines)).toBe(post.body.refunded_amount);
      const shape = post.body.order_lines.map((l: any) => [l.type ?? null, l.total_amount]);
      expect(shape).toEqual(expected);
      if (delta > 0) expect(post.body.order_lines[1].name).toBe("Additional refund");
    }
  });

  it("refunds the received quantity of a line, not the ordered one", async () => {
    const { order } = await capturedOrder(s);
    const tee = itemOf(order, S()); // 2 ordered
    const ret = await requestReturn(s, order, [{ item_id: tee.id, quantity: 2 }]);
    const res = await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }], 2975 - 357);
    expect(res.status).toBe(200);
    const [post] = await klarnaPosts(s, "/refunds");
    expect(post.body.order_lines[0]).toMatchObject({ quantity: 1, total_amount: 2975 });
    expect(post.body.order_lines[1]).toMatchObject({ type: "return_fee", total_amount: -357 });
  });

  it("two returns of one order: the payment's data lists both Klarna refunds with their ids, amounts, intents and keys", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    const returns = [];
    for (const variant of [S(), L()]) {
      const items = [{ item_id: itemOf(order, variant).id, quantity: 1 }];
      const ret = await requestReturn(s, order, items);
      expect((await receive(s, ret.id, items)).status).toBe(200);
      returns.push(ret);
    }
    const k = await klarnaOrder(s, klarnaOrderId);
    expect(k.refunds.map((r: any) => [r.reference, r.refunded_amount])).toEqual([
      [returns[0].id, 2975 - 357],
      [returns[1].id, 3570 - 357],
    ]);
    const rows = await ledgerRows(s, "order_id = $1", [order.id]);
    const { body } = await s.admin().get(`/admin/orders/${order.id}?expand=payments`);
    // Medusa replaces payment.data with what refundPayment returns: the second return keeps the first.
    expect(body.order.payments[0].data.refunds).toEqual(
      returns.map((ret, i) => ({
        klarna_refund_id: k.refunds[i].refund_id,
        amount: k.refunds[i].refunded_amount,
        intent: `return:${ret.id}`,
        idempotency_key: rows[i].idempotency_key,
      })),
    );
    expect(rows.map((r: any) => r.resource_id)).toEqual(returns.map((r) => r.id));
  });

  it("several items with a discount and different tax rates carry Medusa's exact amounts (the fee is exactly the label)", async () => {
    const book = await addReducedRateProduct(s);
    await addPercentageDiscount(s, "TENOFF", 10);
    const { order } = await capturedOrder(s, {
      items: [
        { variant_id: S(), quantity: 3 },
        { variant_id: L(), quantity: 1 },
        { variant_id: book.variants[0].id, quantity: 2 },
      ],
      discountCode: "TENOFF",
    });
    const items = [
      { item_id: itemOf(order, S()).id, quantity: 2 },
      { item_id: itemOf(order, book.variants[0].id).id, quantity: 1 },
    ];
    const ret = await requestReturn(s, order, items);
    const res = await receive(s, ret.id, items);
    expect(res.status).toBe(200);
    const [post] = await klarnaPosts(s, "/refunds");
    const lines = post.body.order_lines;
    expect(post.body.refunded_amount).toBe(ret.refund_amount);
    expect(sumTotals(lines)).toBe(ret.refund_amount);
    expect(lines.map((l: any) => [l.reference, l.quantity, l.tax_rate])).toEqual([
      ["TEE-ORG-S", 2, 1900],
      ["BOOK-BIRDS", 1, 700],
      ["return-fee", 1, 1900],
    ]);
    // Items at Medusa's values: nothing but the label is withheld.
    expect(lines[2]).toMatchObject({ type: "return_fee", total_amount: -357 });
    expect(lines[0].total_discount_amount).toBeGreaterThan(0);
    expect(lines[1].total_discount_amount).toBeGreaterThan(0);
  });
});

describe("where Klarna allows no return fee", () => {
  it("a US order: the fee becomes a discount line (default fallback), lines still add up", async () => {
    const us = await addUsRegion(s);
    const { order, klarnaOrderId } = await capturedOrder(s, { regionId: us.region.id, country: "us", items: [{ variant_id: S(), quantity: 1 }] });
    expect((await klarnaOrder(s, klarnaOrderId)).purchase_country).toBe("US");
    const tee = order.items[0];
    const body: any = { items: [{ item_id: tee.id, quantity: 1 }], return_shipping: { option_id: us.returnShippingOption.id, price: 400 } };
    const { body: created } = await s.admin().post(`/admin/orders/${order.id}/return`, body);
    const ret = created.order.returns[0];
    expect((await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }])).status).toBe(200);
    const [post] = await klarnaPosts(s, "/refunds");
    expect(post.body.order_lines.map((l: any) => [l.type, l.name, l.total_amount])).toEqual([
      ["physical", "Organic Cotton T-Shirt, S", 2700],
      ["discount", "UPS Return", -432],
    ]);
    expect(post.response.status).toBe(201);
  });

  it("a twice-captured order: discount line, no return_fee", async () => {
    const { completed } = await checkoutWithKlarna(s);
    const order = completed.body.data;
    const klarnaOrderId = order.payments[0].data.order_id;
    // Part of the order was captured at Klarna directly (e.g. in the merchant portal) before the admin's capture.
    await s.k.call("POST", `/ordermanagement/v1/orders/${klarnaOrderId}/captures`, { captured_amount: 1000 });
    const { body } = await s.admin().post(`/admin/orders/${order.id}/capture`);
    expect(body.order.payments[0].data.capture_count).toBe(2);
    const tee = itemOf(body.order, S());
    const ret = await requestReturn(s, body.order, [{ item_id: tee.id, quantity: 1 }]);
    expect((await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }])).status).toBe(200);
    const posts = await klarnaPosts(s, "/refunds");
    expect(posts).toHaveLength(1);
    expect(posts[0].body.order_lines.map((l: any) => l.type)).toEqual(["physical", "discount"]);
  });

  it("Klarna refuses the fee the plugin expected to be allowed: it reads the order once, falls back, and records why", async () => {
    await s.k.control("PATCH", "/settings", { return_fee_markets: ["SE"] }); // back to the start-up list after the test (useStore)
    const { order, klarnaOrderId } = await capturedOrder(s);
    const tee = itemOf(order, S());
    const ret = await requestReturn(s, order, [{ item_id: tee.id, quantity: 1 }]);
    await s.k.control("DELETE", "/journal");
    expect((await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }])).status).toBe(200);
    const { entries } = await s.k.control("GET", "/journal");
    const calls = (entries as any[])
      .filter((e) => e.path.startsWith(`/ordermanagement/v1/orders/${klarnaOrderId}`))
      .map((e) => [e.method, e.response?.status]);
    expect(calls).toEqual([
      ["POST", 403],
      ["GET", 200],
      ["POST", 201],
    ]);
    const posts = await klarnaPosts(s, "/refunds");
    expect(posts[1].body.order_lines.map((l: any) => l.type)).toEqual(["physical", "discount"]);
    expect(posts[1].idempotency_key).not.toBe(posts[0].idempotency_key);
    const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
    expect(row.status).toBe("succeeded");
    expect(row.notes.join(" ")).toMatch(/Klarna refused the return fee \(REFUND_NOT_ALLOWED: Return fee is not allowed in market DE/);
  });
});

describe("Klarna refusing", () => {
  it("answers 400 with Klarna's message, receives nothing, records no refund, marks the ledger failed; a retry works", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    const tee = itemOf(order, S());
    const ret = await requestReturn(s, order, [{ item_id: tee.id, quantity: 1 }]);
    await s.k.control("POST", "/faults", {
      method: "POST",
      path: "/ordermanagement/v1/orders/*/refunds",
      status: 404,
      error_code: "NO_SUCH_ORDER",
      error_messages: [`Order ${klarnaOrderId} cannot be found`],
    });
    const res = await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }]);
    expect(res.status).toBe(400);
    expect(res.body.type).toBe("invalid_data");
    expect(res.body.message).toMatch(
      new RegExp(
        `^Klarna refused the refund: Order ${klarnaOrderId} cannot be found\\. The Klarna order does not exist for these credentials \\(wrong region or environment\\?\\):\\nKlarna NO_SUCH_ORDER, correlation [0-9a-f-]{36}, HTTP 404$`,
      ),
    );
    const { body } = await s.admin().get(`/admin/orders/${order.id}?expand=refunds,returns`);
    expect(body.order.refunds).toEqual([]);
    expect(body.order.returns.find((r: any) => r.id === ret.id).status).toBe("requested");
    const [failed] = await ledgerRows(s, "resource_id = $1", [ret.id]);
    expect(failed).toMatchObject({ status: "failed", error: { status: 404, error_code: "NO_SUCH_ORDER" } });
    expect(failed.correlation_id).toBe(res.body.message.match(/correlation ([0-9a-f-]{36})/)[1]);

    const again = await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }]);
    expect(again.status).toBe(200);
    const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
    expect(row).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(row.idempotency_key).not.toBe(failed.idempotency_key); // a refused request made no refund: a new key is safe
    expect((await klarnaOrder(s, klarnaOrderId)).refunds).toHaveLength(1);
  });
});

describe("giving a charged return fee back", () => {
  it("POST /admin/klarna/returns/:id/waive-return-fee refunds the fee at Klarna and in Medusa, once", async () => {
    const { order, klarnaOrderId } = await capturedOrder(s);
    const tee = itemOf(order, S());
    const ret = await requestReturn(s, order, [{ item_id: tee.id, quantity: 1 }]);
    expect((await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }])).status).toBe(200);
    await s.k.control("DELETE", "/journal");

    const res = await s.admin().post(`/admin/klarna/returns/${ret.id}/waive-return-fee`);
    expect(res.status).toBe(200);
    expect(res.body.klarna).toMatchObject({ return_id: ret.id, fee: 357, klarna_refund_id: expect.any(String) });
    const posts = await klarnaPosts(s, "/refunds");
    expect(posts).toHaveLength(1);
    expect(posts[0].body).toEqual({
      refunded_amount: 357,
      reference: `${ret.id}/return-fee-refund`,
      description: "Return fee refunded",
      order_lines: [
        {
          name: "DHL Return label",
          type: "return_fee",
          reference: "return-fee",
          quantity: 1,
          unit_price: 357,
          tax_rate: 1900,
          total_amount: 357,
          total_tax_amount: 57,
        },
      ],
    });
    expect(res.body.order.refunds.map((r: any) => r.amount).sort((a: number, b: number) => a - b)).toEqual([357, 2618]);
    expect((await klarnaOrder(s, klarnaOrderId)).refunded_amount).toBe(2975);

    const twice = await s.admin().post(`/admin/klarna/returns/${ret.id}/waive-return-fee`);
    expect(twice.status).toBe(422);
    expect(twice.body.message).toMatch(/already given back/);
    expect(await klarnaPosts(s, "/refunds")).toHaveLength(1);

    const metadata = await waitFor(async () => {
      const [r] = await s.db.query(`SELECT metadata FROM "return" WHERE id = $1`, [ret.id]);
      return r.metadata?.klarna;
    });
    expect(metadata.return_fee).toEqual({ amount: 357, line_type: "return_fee" });
  });

  it("refuses when no fee was charged, and for a return that is not received", async () => {
    const { order } = await capturedOrder(s);
    const tee = itemOf(order, S());
    const ret = await requestReturn(s, order, [{ item_id: tee.id, quantity: 1 }], { shipping: false });
    const early = await s.admin().post(`/admin/klarna/returns/${ret.id}/waive-return-fee`);
    expect(early.status).toBe(400);
    expect(early.body.message).toMatch(/receive it before giving its return fee back/);
    expect((await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }])).status).toBe(200);
    const none = await s.admin().post(`/admin/klarna/returns/${ret.id}/waive-return-fee`);
    expect(none.status).toBe(400);
    expect(none.body.message).toMatch(/No Klarna return fee was charged/);
  });
});
