import { germanSession, RunningEmulator, startEmulator, tshirt } from "../support/emulator";
import { checkout, DAY_S, expectKlarnaError } from "../support/klarna-answers";
import { omSchema, schemaValidator } from "../support/openapi";

/**
 * The rest of an order's life (GitHub issue 9), over real HTTP. Each test names its source:
 * order-management.yml (OM), payments.yml (KP), Klarna's docs pages, or KLARNA.md's last section.
 */
let k: RunningEmulator;
beforeAll(async () => {
  k = await startEmulator();
});
afterAll(() => k.stop());
beforeEach(() => k.control("POST", "/reset"));

const om = (id: string) => `/ordermanagement/v1/orders/${id}`;
const getOrder = async (id: string) => (await k.call("GET", om(id))).data;
const socks = (o = {}) => tshirt({ name: "Socks", reference: "SO-1", unit_price: 5000, total_amount: 5000, ...o });

describe("expiry (OM MerchantOrderDto.expires_at: 'The order can only be captured until this time')", () => {
  it("expires_at is authorization_ttl_days (default 28, Klarna docs) after the purchase; GET shows EXPIRED once the clock passes it", async () => {
    const id = await k.createOrder({ captured: false });
    let order = await getOrder(id);
    expect(Date.parse(order.expires_at) - Date.parse(order.created_at)).toBe(28 * DAY_S * 1000);
    expect(order.status).toBe("AUTHORIZED");
    await k.control("POST", "/clock", { advance_seconds: 28 * DAY_S - 60 });
    expect((await getOrder(id)).status).toBe("AUTHORIZED");
    await k.control("POST", "/clock", { advance_seconds: 120 });
    order = await getOrder(id);
    expect(order).toMatchObject({ status: "EXPIRED", remaining_authorized_amount: 0, captured_amount: 0 });
  });

  it("capturing an expired order: 403 CAPTURE_NOT_ALLOWED 'Order {id} is expired. Capture not possible.' (KLARNA.md; Klarna's message as merchants quote it)", async () => {
    const id = await k.createOrder({ captured: false });
    await k.control("POST", "/clock", { advance_seconds: 29 * DAY_S });
    expectKlarnaError(
      await k.call("POST", `${om(id)}/captures`, { captured_amount: 100 }),
      403,
      "CAPTURE_NOT_ALLOWED",
      `Order ${id} is expired. Capture not possible.`,
    );
  });

  it("authorization_ttl_days is a setting (markets and merchant accounts differ)", async () => {
    await k.control("PATCH", "/settings", { authorization_ttl_days: 7 });
    const order = await getOrder(await k.createOrder({ captured: false }));
    expect(Date.parse(order.expires_at) - Date.parse(order.created_at)).toBe(7 * DAY_S * 1000);
  });

  it("a PART_CAPTURED order loses its remaining authorisation at expiry; its status is the setting part_captured_expiry_status (unconfirmed)", async () => {
    const id = await k.createOrder({ captured: [4000] });
    await k.control("POST", "/clock", { advance_seconds: 29 * DAY_S });
    expect(await getOrder(id)).toMatchObject({ status: "CAPTURED", captured_amount: 4000, remaining_authorized_amount: 0 });
    expectKlarnaError(await k.call("POST", `${om(id)}/captures`, { captured_amount: 100 }), 403, "CAPTURE_NOT_ALLOWED", /is expired/);
    // What was captured can still be refunded.
    expect((await k.call("POST", `${om(id)}/refunds`, { refunded_amount: 4000 })).status).toBe(201);

    await k.control("PATCH", "/settings", { part_captured_expiry_status: "EXPIRED" });
    const other = await k.createOrder({ captured: [4000] });
    await k.control("POST", "/clock", { advance_seconds: 29 * DAY_S });
    expect((await getOrder(other)).status).toBe("EXPIRED");
  });
});

describe("POST …/extend-authorization-time (OM extendAuthorizationTime; Klarna docs 'Extend order authorization time')", () => {
  it("no body, 204: the new expires_at is the day of the extension plus the account's days; the order can be captured later", async () => {
    const id = await k.createOrder({ captured: false });
    await k.control("POST", "/clock", { advance_seconds: 20 * DAY_S });
    const res = await k.call("POST", `${om(id)}/extend-authorization-time`);
    expect(res.status).toBe(204);
    expect(res.data).toBe("");
    const order = await getOrder(id);
    // Day 20 of the emulator's clock (plus the milliseconds the test took) + 28 days.
    expect(Date.parse(order.expires_at) - Date.parse(order.created_at) - 48 * DAY_S * 1000).toBeGreaterThanOrEqual(0);
    expect(Date.parse(order.expires_at) - Date.parse(order.created_at) - 48 * DAY_S * 1000).toBeLessThan(5000);
    await k.control("POST", "/clock", { advance_seconds: 20 * DAY_S });
    expect((await k.call("POST", `${om(id)}/captures`, { captured_amount: 10000 })).status).toBe(201);
  });

  it("never beyond authorization_max_days (180) after the purchase; at the limit it is refused with 403 NOT_ALLOWED", async () => {
    const id = await k.createOrder({ captured: false });
    for (let day = 20; day <= 160; day += 20) {
      await k.control("POST", "/clock", { advance_seconds: 20 * DAY_S });
      expect((await k.call("POST", `${om(id)}/extend-authorization-time`)).status).toBe(204);
    }
    const order = await getOrder(id);
    expect(Date.parse(order.expires_at) - Date.parse(order.created_at)).toBe(180 * DAY_S * 1000);
    expectKlarnaError(await k.call("POST", `${om(id)}/extend-authorization-time`), 403, "NOT_ALLOWED", /Authorization time cannot be extended/);
  });

  it("refused on expired ('Order is expired. Authorization time cannot be extended.', Klarna docs), cancelled and fully captured orders; a part-captured one extends", async () => {
    const expired = await k.createOrder({ captured: false });
    const cancelled = await k.createOrder({ captured: false });
    const captured = await k.createOrder({});
    const part = await k.createOrder({ captured: [1000] });
    await k.call("POST", `${om(cancelled)}/cancel`);
    expectKlarnaError(
      await k.call("POST", `${om(cancelled)}/extend-authorization-time`),
      403,
      "NOT_ALLOWED",
      "Order is cancelled. Authorization time cannot be extended.",
    );
    expectKlarnaError(
      await k.call("POST", `${om(captured)}/extend-authorization-time`),
      403,
      "NOT_ALLOWED",
      "Order is fully captured. Authorization time cannot be extended.",
    );
    await k.control("POST", "/clock", { advance_seconds: 10 * DAY_S });
    expect((await k.call("POST", `${om(part)}/extend-authorization-time`)).status).toBe(204);
    await k.control("POST", "/clock", { advance_seconds: 19 * DAY_S });
    expectKlarnaError(
      await k.call("POST", `${om(expired)}/extend-authorization-time`),
      403,
      "NOT_ALLOWED",
      "Order is expired. Authorization time cannot be extended.",
    );
    expectKlarnaError(await k.call("POST", `${om("nope")}/extend-authorization-time`), 404, "NO_SUCH_ORDER");
  });
});

describe("PATCH …/authorization (OM updateAuthorization, body `Update authorization`)", () => {
  const lines = (amount: number) => [tshirt({ unit_price: amount, total_amount: amount })];

  it("a decrease sets order_amount, order_lines and remaining_authorized_amount; 204", async () => {
    const id = await k.createOrder({ captured: false });
    const res = await k.call("PATCH", `${om(id)}/authorization`, { order_amount: 8000, order_lines: lines(8000), description: "Out of stock" });
    expect(res.status).toBe(204);
    const order = await getOrder(id);
    expect(order).toMatchObject({ status: "AUTHORIZED", order_amount: 8000, original_order_amount: 10000, remaining_authorized_amount: 8000 });
    expect(order.order_lines).toEqual(lines(8000));
  });

  it("below the captured amount: 403 NOT_ALLOWED in Klarna's words (docs, error page); down to it the order is CAPTURED", async () => {
    const id = await k.createOrder({ captured: [8000] });
    expectKlarnaError(
      await k.call("PATCH", `${om(id)}/authorization`, { order_amount: 7000 }),
      403,
      "NOT_ALLOWED",
      "Resulting authorization amount 7000 cannot be less than the captured amount 8000 for order. Order authorization cannot be updated",
    );
    expect((await k.call("PATCH", `${om(id)}/authorization`, { order_amount: 8000 })).status).toBe(204);
    expect(await getOrder(id)).toMatchObject({ status: "CAPTURED", order_amount: 8000, remaining_authorized_amount: 0 });
  });

  it("an increase runs Klarna's risk check: accepted by default, 403 NOT_ALLOWED with authorization_increase=refuse", async () => {
    const id = await k.createOrder({ captured: [4000] });
    expect((await k.call("PATCH", `${om(id)}/authorization`, { order_amount: 12000, order_lines: lines(12000) })).status).toBe(204);
    expect(await getOrder(id)).toMatchObject({ status: "PART_CAPTURED", order_amount: 12000, remaining_authorized_amount: 8000 });
    await k.control("PATCH", "/settings", { authorization_increase: "refuse" });
    expectKlarnaError(
      await k.call("PATCH", `${om(id)}/authorization`, { order_amount: 13000, order_lines: lines(13000) }),
      403,
      "NOT_ALLOWED",
      /risk assessment/,
    );
    expect((await k.call("PATCH", `${om(id)}/authorization`, { order_amount: 11000, order_lines: lines(11000) })).status).toBe(204);
  });

  it("schema and line arithmetic as for orders: BAD_VALUE naming the path", async () => {
    const id = await k.createOrder({ captured: false });
    const patch = (body: unknown) => k.call("PATCH", `${om(id)}/authorization`, body);
    expectKlarnaError(await patch({ order_lines: lines(100) }), 400, "BAD_VALUE", "Bad value: order_amount");
    expectKlarnaError(await patch({ order_amount: 200000001 }), 400, "BAD_VALUE", "Bad value: order_amount");
    expectKlarnaError(await patch({ order_amount: 100, description: "x".repeat(256) }), 400, "BAD_VALUE", "Bad value: description");
    expectKlarnaError(
      await patch({ order_amount: 100, order_lines: [tshirt({ total_amount: 100 })] }),
      400,
      "BAD_VALUE",
      /order_lines\[0\]\.total_amount differs from the calculated value \[10000\]/,
    );
    expectKlarnaError(
      await patch({ order_amount: 100, order_lines: lines(200) }),
      400,
      "BAD_VALUE",
      /order_amount differs from the sum of order_lines\.total_amount \[200\]/,
    );
    expectKlarnaError(
      await patch({ order_amount: 100, order_lines: [tshirt({ tax_rate: 2500, total_tax_amount: 10 })] }),
      400,
      "BAD_VALUE",
      /total_tax_amount/,
    );
    expect((await getOrder(id)).order_amount).toBe(10000);
  });

  it("refused on cancelled, expired and fully captured orders (403 NOT_ALLOWED: 'Decision is based on order state')", async () => {
    const cancelled = await k.createOrder({ captured: false });
    await k.call("POST", `${om(cancelled)}/cancel`);
    expectKlarnaError(await k.call("PATCH", `${om(cancelled)}/authorization`, { order_amount: 1 }), 403, "NOT_ALLOWED", /Order is cancelled/);
    const captured = await k.createOrder({});
    expectKlarnaError(await k.call("PATCH", `${om(captured)}/authorization`, { order_amount: 10000 }), 403, "NOT_ALLOWED", /fully captured/);
    const expired = await k.createOrder({ captured: false });
    await k.control("POST", "/clock", { advance_seconds: 29 * DAY_S });
    expectKlarnaError(await k.call("PATCH", `${om(expired)}/authorization`, { order_amount: 1 }), 403, "NOT_ALLOWED", /Order is expired/);
  });
});

describe("shipping info (OM appendShippingInfo, CaptureObject.shipping_info, `shipping_info` schema)", () => {
  const dhl = {
    shipping_company: "DHL US",
    shipping_method: "Home",
    tracking_number: "63456415674545679874",
    tracking_uri: "http://shipping.example/findmypackage?63456415674545679874",
  };
  const ret = {
    return_shipping_company: "DHL US",
    return_tracking_number: "93456415674545679888",
    return_tracking_uri: "http://shipping.example/findmypackage?93456415674545679888",
  };

  it("POST …/captures/{id}/shipping-info appends (204); GET capture and GET order show captures[].shipping_info", async () => {
    const id = await k.createOrder({});
    const captureId = (await getOrder(id)).captures[0].capture_id;
    const res = await k.call("POST", `${om(id)}/captures/${captureId}/shipping-info`, { shipping_info: [dhl] });
    expect(res.status).toBe(204);
    expect((await k.call("POST", `${om(id)}/captures/${captureId}/shipping-info`, { shipping_info: [ret] })).status).toBe(204);
    expect((await k.call("GET", `${om(id)}/captures/${captureId}`)).data.shipping_info).toEqual([dhl, ret]);
    expect((await getOrder(id)).captures[0].shipping_info).toEqual([dhl, ret]);
  });

  it("a capture may carry shipping_info directly", async () => {
    const id = await k.createOrder({ captured: false });
    const cap = await k.call("POST", `${om(id)}/captures`, { captured_amount: 10000, shipping_info: [{ ...dhl, ...ret }] });
    expect(cap.status).toBe(201);
    expect((await k.call("GET", `${om(id)}/captures/${cap.headers["capture-id"]}`)).data.shipping_info).toEqual([{ ...dhl, ...ret }]);
  });

  it.each([
    [
      "shipping_company over 100",
      { shipping_company: "x".repeat(101) },
      "The size of the shipping_info/shipping_company value must be between 0 and 100",
    ],
    [
      "tracking_number over 100",
      { tracking_number: "1".repeat(101) },
      "The size of the shipping_info/tracking_number value must be between 0 and 100",
    ],
    ["tracking_uri over 1024", { tracking_uri: "h".repeat(1025) }, "The size of the shipping_info/tracking_uri value must be between 0 and 1024"],
    [
      "return_shipping_company over 100",
      { return_shipping_company: "x".repeat(101) },
      "The size of the shipping_info/return_shipping_company value must be between 0 and 100",
    ],
    [
      "return_tracking_number over 100",
      { return_tracking_number: "1".repeat(101) },
      "The size of the shipping_info/return_tracking_number value must be between 0 and 100",
    ],
    [
      "return_tracking_uri over 1024",
      { return_tracking_uri: "h".repeat(1025) },
      "The size of the shipping_info/return_tracking_uri value must be between 0 and 1024",
    ],
    ["shipping_method outside the spec's list", { shipping_method: "Drone" }, /shipping_info\/shipping_method must match "\(PickUpStore\|Home\|/],
    ["an unknown field", { carrier: "DHL" }, /shipping_info\/carrier/],
  ])(
    "%s: 422 UNPROCESSABLE_ENTITY (Klarna docs, 'Manage orders with the API' common errors), on the call and in a capture",
    async (_name, entry, message) => {
      const id = await k.createOrder({ captured: [5000] });
      const captureId = (await getOrder(id)).captures[0].capture_id;
      expectKlarnaError(
        await k.call("POST", `${om(id)}/captures/${captureId}/shipping-info`, { shipping_info: [dhl, entry] }),
        422,
        "UNPROCESSABLE_ENTITY",
        message,
      );
      expectKlarnaError(
        await k.call("POST", `${om(id)}/captures`, { captured_amount: 100, shipping_info: [entry] }),
        422,
        "UNPROCESSABLE_ENTITY",
        message,
      );
      const order = await getOrder(id);
      expect(order.captures).toHaveLength(1);
      expect(order.captures[0].shipping_info).toEqual([]);
    },
  );

  it("every shipping_method of the spec's list is accepted", async () => {
    const id = await k.createOrder({});
    const captureId = (await getOrder(id)).captures[0].capture_id;
    // The spec lists the methods only in a pattern: "(PickUpStore|Home|…)".
    const pattern: string = omSchema("shipping_info").properties.shipping_method.pattern;
    const methods = pattern
      .trim()
      .replace(/^\(|\)$/g, "")
      .split("|");
    expect(methods.length).toBeGreaterThan(10);
    const res = await k.call("POST", `${om(id)}/captures/${captureId}/shipping-info`, {
      shipping_info: methods.map((shipping_method) => ({ shipping_method })),
    });
    expect(res.status).toBe(204);
  });

  it("UpdateShippingInfo: shipping_info required, 1–500 entries (400 BAD_VALUE); 403 'Order has no captures.'; 404 NO_SUCH_CAPTURE in Klarna's words", async () => {
    const id = await k.createOrder({});
    const captureId = (await getOrder(id)).captures[0].capture_id;
    const post = (body: unknown, cid = captureId, oid = id) => k.call("POST", `${om(oid)}/captures/${cid}/shipping-info`, body);
    expectKlarnaError(await post({}), 400, "BAD_VALUE", "Bad value: shipping_info");
    expectKlarnaError(await post({ shipping_info: [] }), 400, "BAD_VALUE", "Bad value: shipping_info");
    expectKlarnaError(await post({ shipping_info: Array.from({ length: 501 }, () => ({})) }), 400, "BAD_VALUE", "Bad value: shipping_info");
    expectKlarnaError(
      await post({ shipping_info: [dhl] }, "c-1"),
      404,
      "NO_SUCH_CAPTURE",
      "Capture could not be found. Shipping info cannot be added to capture c-1",
    );
    const open = await k.createOrder({ captured: false });
    expectKlarnaError(await post({ shipping_info: [dhl] }, "c-1", open), 403, "NOT_ALLOWED", "Order has no captures.");
    expectKlarnaError(await post({ shipping_info: [dhl] }, "c-1", "nope"), 404, "NO_SUCH_ORDER");
  });

  it("POST …/orders/{id}/shipping-info (OM appendOrderShippingInfo) appends to the order's shipping_info", async () => {
    const id = await k.createOrder({ captured: false });
    expect((await getOrder(id)).shipping_info).toEqual([]);
    expect((await k.call("POST", `${om(id)}/shipping-info`, { shipping_info: [dhl] })).status).toBe(204);
    expect((await getOrder(id)).shipping_info).toEqual([dhl]);
    expectKlarnaError(
      await k.call("POST", `${om(id)}/shipping-info`, { shipping_info: [{ shipping_method: "Teleport" }] }),
      422,
      "UNPROCESSABLE_ENTITY",
    );
    expectKlarnaError(await k.call("POST", `${om("nope")}/shipping-info`, { shipping_info: [dhl] }), 404, "NO_SUCH_ORDER");
  });
});

describe("PATCH …/customer-details (OM updateConsumerDetails, body `UpdateConsumer`)", () => {
  const address = {
    given_name: "Klara",
    family_name: "Joyce",
    street_address: "Apartment 10",
    street_address2: "1 Safeway",
    postal_code: "12345",
    city: "Knoxville",
    region: "TN",
    country: "us",
    email: "klara.joyce@klarna.com",
    phone: "1-555-555-5555",
  };

  it("changes the shipping address (204), shown by GET order", async () => {
    const id = await k.createOrder({ captured: false });
    expect((await k.call("PATCH", `${om(id)}/customer-details`, { shipping_address: address })).status).toBe(204);
    expect((await getOrder(id)).shipping_address).toEqual(address);
  });

  it("the billing address cannot be updated (the spec's 403 NOT_ALLOWED)", async () => {
    const id = await k.createOrder({ captured: false });
    expectKlarnaError(
      await k.call("PATCH", `${om(id)}/customer-details`, { billing_address: address }),
      403,
      "NOT_ALLOWED",
      "Billing address cannot be updated.",
    );
  });

  it("an address breaking the spec's limits: 422 INVALID_ADDRESS 'The shipping and/or billing address is invalid' (Klarna docs)", async () => {
    const id = await k.createOrder({ captured: false });
    for (const bad of [{ postal_code: "12345678901" }, { street_address: "x".repeat(101) }, { title: "x".repeat(21) }, { nickname: "K" }]) {
      expectKlarnaError(
        await k.call("PATCH", `${om(id)}/customer-details`, { shipping_address: { ...address, ...bad } }),
        422,
        "INVALID_ADDRESS",
        "The shipping and/or billing address is invalid",
      );
    }
    expectKlarnaError(await k.call("PATCH", `${om(id)}/customer-details`, { shipping_address: address, phone: "1" }), 400, "BAD_VALUE", /phone/);
  });

  it("refused by order state (cancelled, fully captured) and by Klarna's risk check (customer_details_update=refuse)", async () => {
    const cancelled = await k.createOrder({ captured: false });
    await k.call("POST", `${om(cancelled)}/cancel`);
    expectKlarnaError(
      await k.call("PATCH", `${om(cancelled)}/customer-details`, { shipping_address: address }),
      403,
      "NOT_ALLOWED",
      /Order is cancelled/,
    );
    const captured = await k.createOrder({});
    expectKlarnaError(await k.call("PATCH", `${om(captured)}/customer-details`, { shipping_address: address }), 403, "NOT_ALLOWED", /fully captured/);
    const open = await k.createOrder({ captured: false });
    await k.control("PATCH", "/settings", { customer_details_update: "refuse" });
    expectKlarnaError(await k.call("PATCH", `${om(open)}/customer-details`, { shipping_address: address }), 403, "NOT_ALLOWED", /risk assessment/);
  });
});

describe("POST …/captures/{id}/trigger-send-out (OM triggerSendOut) and the due-date calls (OM extendDueDate, getOptionsForExtendDueDate)", () => {
  it("send-out: 204; 403 'Order has no captures.'; 404 NO_SUCH_CAPTURE", async () => {
    const id = await k.createOrder({});
    const captureId = (await getOrder(id)).captures[0].capture_id;
    const res = await k.call("POST", `${om(id)}/captures/${captureId}/trigger-send-out`);
    expect(res.status).toBe(204);
    expectKlarnaError(await k.call("POST", `${om(id)}/captures/c-1/trigger-send-out`), 404, "NO_SUCH_CAPTURE");
    const open = await k.createOrder({ captured: false });
    expectKlarnaError(await k.call("POST", `${om(open)}/captures/c-1/trigger-send-out`), 403, "NOT_ALLOWED", "Order has no captures.");
  });

  it("due date: the options (ExtendDueDateOptions) in the order's currency; an offered number_of_days is 204, another 403", async () => {
    const id = await k.createOrder({});
    const captureId = (await getOrder(id)).captures[0].capture_id;
    const options = await k.call("GET", `${om(id)}/captures/${captureId}/extend-due-date-options`);
    expect(options.data).toEqual({
      currency: "EUR",
      options: [
        { number_of_days: 7, amount: 0 },
        { number_of_days: 14, amount: 0 },
        { number_of_days: 30, amount: 0 },
      ],
    });
    expect(schemaValidator("om#/components/schemas/ExtendDueDateOptions")(options.data)).toBe(true);
    expect((await k.call("PATCH", `${om(id)}/captures/${captureId}/extend-due-date`, { number_of_days: 14 })).status).toBe(204);
    expectKlarnaError(await k.call("PATCH", `${om(id)}/captures/${captureId}/extend-due-date`, { number_of_days: 9 }), 403, "NOT_ALLOWED");
    expectKlarnaError(await k.call("PATCH", `${om(id)}/captures/${captureId}/extend-due-date`, {}), 400, "BAD_VALUE", "Bad value: number_of_days");
  });
});

describe("refund allocation (KLARNA.md: 'send order lines as they allow us to locate the refund to the right capture')", () => {
  async function twoCaptures(): Promise<string> {
    const id = await k.createOrder({ captured: false, order_lines: [tshirt(), socks()] });
    await k.call("POST", `${om(id)}/captures`, { captured_amount: 10000, order_lines: [tshirt()] });
    await k.call("POST", `${om(id)}/captures`, { captured_amount: 5000, order_lines: [socks()] });
    return id;
  }
  const refundedPerCapture = async (id: string) => (await getOrder(id)).captures.map((c: any) => c.refunded_amount);

  it("a refund line whose reference matches a capture line's goes to that capture, not the oldest", async () => {
    const id = await twoCaptures();
    expect((await k.call("POST", `${om(id)}/refunds`, { refunded_amount: 5000, order_lines: [socks()] })).status).toBe(201);
    expect(await refundedPerCapture(id)).toEqual([0, 5000]);
  });

  it("lines of both captures split the refund between them", async () => {
    const id = await twoCaptures();
    await k.call("POST", `${om(id)}/refunds`, {
      refunded_amount: 7000,
      order_lines: [socks({ unit_price: 2000, total_amount: 2000 }), tshirt({ unit_price: 5000, total_amount: 5000 })],
    });
    expect(await refundedPerCapture(id)).toEqual([5000, 2000]);
  });

  it("without lines, or with lines no capture carries, captures fill oldest first", async () => {
    const id = await twoCaptures();
    await k.call("POST", `${om(id)}/refunds`, { refunded_amount: 3000 });
    expect(await refundedPerCapture(id)).toEqual([3000, 0]);
    await k.call("POST", `${om(id)}/refunds`, {
      refunded_amount: 8000,
      order_lines: [tshirt({ reference: "GIFT-1", unit_price: 8000, total_amount: 8000 })],
    });
    expect(await refundedPerCapture(id)).toEqual([10000, 1000]);
  });

  it("a matched line larger than its capture's room spills over oldest first", async () => {
    const id = await twoCaptures();
    await k.call("POST", `${om(id)}/refunds`, { refunded_amount: 6000, order_lines: [socks({ quantity: 1, unit_price: 6000, total_amount: 6000 })] });
    expect(await refundedPerCapture(id)).toEqual([1000, 5000]);
  });
});

describe("states, in Klarna's words", () => {
  it("release on a fully captured order: 403 NOT_ALLOWED 'Order is fully captured. Remaining authorization cannot be released.' (KLARNA.md)", async () => {
    const id = await k.createOrder({});
    expectKlarnaError(
      await k.call("POST", `${om(id)}/release-remaining-authorization`),
      403,
      "NOT_ALLOWED",
      "Order is fully captured. Remaining authorization cannot be released.",
    );
    const part = await k.createOrder({ captured: [4000] });
    expect((await k.call("POST", `${om(part)}/release-remaining-authorization`)).status).toBe(204);
    expectKlarnaError(
      await k.call("POST", `${om(part)}/release-remaining-authorization`),
      403,
      "NOT_ALLOWED",
      "Order is fully captured. Remaining authorization cannot be released.",
    );
  });

  it("cancel after a capture: 403 CANCEL_NOT_ALLOWED 'Order has previous captures. Cancel not possible.' (KLARNA.md, Klarna's error page)", async () => {
    const id = await k.createOrder({ captured: [100] });
    expectKlarnaError(await k.call("POST", `${om(id)}/cancel`), 403, "CANCEL_NOT_ALLOWED", "Order has previous captures. Cancel not possible.");
  });

  it("merchant references of a cancelled order: 403 NOT_ALLOWED 'Can not update a cancelled order.' (OM updateMerchantReferences)", async () => {
    const id = await k.createOrder({ captured: false });
    await k.call("POST", `${om(id)}/cancel`);
    expectKlarnaError(
      await k.call("PATCH", `${om(id)}/merchant-references`, { merchant_reference1: "order_2" }),
      403,
      "NOT_ALLOWED",
      "Can not update a cancelled order.",
    );
    expect((await getOrder(id)).merchant_reference1).toBeUndefined();
  });
});

describe("the order's fields (OM MerchantOrderDto), from the checkout", () => {
  const billing = {
    given_name: "Jane",
    family_name: "Doe",
    email: "jane@example.com",
    street_address: "Unter den Linden 1",
    postal_code: "10117",
    city: "Berlin",
    country: "DE",
  };
  const shipping = { ...billing, street_address: "Friedrichstraße 100", postal_code: "10117" };
  const session = {
    ...germanSession(),
    billing_address: { ...billing, given_name: "Session" },
    merchant_data: "from the session",
    customer: { date_of_birth: "1980-01-01", gender: "female" },
  };

  it("klarna_reference, addresses (the place-order request's first), customer, merchant_data, initial_payment_method, shipping_info; valid MerchantOrderDto", async () => {
    const { placed } = await checkout(k, session, {
      order: { ...session, billing_address: billing, shipping_address: shipping, merchant_data: "from the order" },
    });
    expect(placed.status).toBe(200);
    const order = await getOrder(placed.data.order_id);
    expect(order.klarna_reference).toMatch(/^K[A-Z0-9]{6}$/);
    expect(order).toMatchObject({
      billing_address: billing,
      shipping_address: shipping,
      customer: { date_of_birth: "1980-01-01" },
      merchant_data: "from the order",
      initial_payment_method: { type: "INVOICE" },
      shipping_info: [],
    });
    const validate = schemaValidator("om#/components/schemas/MerchantOrderDto");
    expect(validate(order) ? [] : validate.errors).toEqual([]);

    await k.call("POST", `${om(order.order_id)}/captures`, { captured_amount: 10000 });
    const capture = (await getOrder(order.order_id)).captures[0];
    expect(capture).toMatchObject({
      klarna_reference: `${order.klarna_reference}-1`,
      billing_address: billing,
      shipping_address: shipping,
      shipping_info: [],
    });
    const validateCapture = schemaValidator("om#/components/schemas/Capture");
    expect(validateCapture(capture) ? [] : validateCapture.errors).toEqual([]);
  });

  it("what the place-order request leaves out comes from the session", async () => {
    const { placed } = await checkout(k, session);
    const order = await getOrder(placed.data.order_id);
    expect(order).toMatchObject({ billing_address: session.billing_address, merchant_data: "from the session" });
    expect(order.shipping_address).toBeUndefined();
  });

  it("KP `address` limits: 400 BAD_VALUE naming the path", async () => {
    const res = await k.call("POST", "/payments/v1/sessions", { ...session, billing_address: { ...billing, postal_code: "12345678901" } });
    expectKlarnaError(res, 400, "BAD_VALUE", "Bad value: billing_address.postal_code");
    const country = await k.call("POST", "/payments/v1/sessions", { ...session, shipping_address: { ...billing, country: "DEU" } });
    expectKlarnaError(country, 400, "BAD_VALUE", "Bad value: shipping_address.country");
    const url = await k.call("POST", "/payments/v1/sessions", { ...session, merchant_urls: { notification: "https://x/" + "a".repeat(2000) } });
    expectKlarnaError(url, 400, "BAD_VALUE", "Bad value: merchant_urls.notification");
  });
});
