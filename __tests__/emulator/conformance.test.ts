import { validate as isUuid } from "uuid";
import { RunningEmulator, SEED_REFUND, startEmulator, tshirt } from "../support/emulator";
import { expectKlarnaError } from "../support/klarna-answers";

/**
 * The emulator against Klarna's published behaviour (KLARNA.md, the seed pages, the OpenAPI specs),
 * over real HTTP. Every error row of KLARNA.md's table is produced here with Klarna's body shape.
 */
let k: RunningEmulator;
beforeAll(async () => {
  k = await startEmulator();
});
afterAll(() => k.stop());
beforeEach(() => k.control("POST", "/reset"));

const refunds = (id: string) => `/ordermanagement/v1/orders/${id}/refunds`;
const key = () => require("uuid").v4() as string;

describe("the seed sample: refund with a return fee", () => {
  it("answers 201 with Refund-Id and Location, an empty body, and moves the amounts", async () => {
    const orderId = await k.createOrder({});
    const res = await k.call("POST", refunds(orderId), SEED_REFUND, { headers: { "Klarna-Idempotency-Key": key() } });
    expect(res.status).toBe(201);
    expect(res.data).toBe("");
    const refundId = res.headers["refund-id"];
    expect(isUuid(refundId)).toBe(true);
    expect(res.headers.location).toBe(`${k.url}${refunds(orderId)}/${refundId}`);

    const refund = await k.call("GET", `${refunds(orderId)}/${refundId}`);
    expect(refund.status).toBe(200);
    expect(refund.data).toMatchObject({ refund_id: refundId, refunded_amount: 9500, order_lines: SEED_REFUND.order_lines });
    expect(typeof refund.data.refunded_at).toBe("string");

    const order = await k.call("GET", `/ordermanagement/v1/orders/${orderId}`);
    expect(order.data).toMatchObject({ status: "CAPTURED", captured_amount: 10000, refunded_amount: 9500 });
    expect(order.data.captures[0].refunded_amount).toBe(9500);
    expect(order.data.refunds).toHaveLength(1);
  });
});

describe("every error row of KLARNA.md", () => {
  it("400 BAD_VALUE names the JSON path of a schema violation", async () => {
    const orderId = await k.createOrder({});
    const long = await k.call("POST", refunds(orderId), { refunded_amount: 100, order_lines: [tshirt({ name: "x".repeat(256) })] });
    expectKlarnaError(long, 400, "BAD_VALUE", "Bad value: order_lines[0].name");
    const missing = await k.call("POST", refunds(orderId), { description: "no amount" });
    expectKlarnaError(missing, 400, "BAD_VALUE", "Bad value: refunded_amount");
    const fraction = await k.call("POST", refunds(orderId), { refunded_amount: 89.89 });
    expectKlarnaError(fraction, 400, "BAD_VALUE", "Bad value: refunded_amount");
    const unknown = await k.call("POST", refunds(orderId), { refunded_amount: 1, order_lines: [tshirt({ colour: "red" } as any)] });
    expectKlarnaError(unknown, 400, "BAD_VALUE", /order_lines\[0\]\.colour/);
    const badType = await k.call("POST", refunds(orderId), { refunded_amount: 1, order_lines: [tshirt({ type: "fee" as any })] });
    expectKlarnaError(badType, 400, "BAD_VALUE", "Bad value: order_lines[0].type");
  });

  it("400 BAD_VALUE for line arithmetic, in Klarna's words (strict); lenient lets it through", async () => {
    const orderId = await k.createOrder({});
    const body = {
      refunded_amount: 10000,
      order_lines: [tshirt({ tax_rate: 2500, total_tax_amount: 2990 })],
    };
    const strict = await k.call("POST", refunds(orderId), body);
    expectKlarnaError(
      strict,
      400,
      "BAD_VALUE",
      "Bad value: order_lines[0].total_tax_amount differs from the calculated value [2000] by more than [1]",
    );
    const badTotal = await k.call("POST", refunds(orderId), { refunded_amount: 10000, order_lines: [tshirt({ quantity: 2 })] });
    expectKlarnaError(badTotal, 400, "BAD_VALUE", /order_lines\[0\]\.total_amount differs from the calculated value \[20000\]/);
    await k.control("PATCH", "/settings", { om_line_arithmetic: "lenient" });
    expect((await k.call("POST", refunds(orderId), body)).status).toBe(201);
  });

  it("401 with a non-JSON body for missing or wrong credentials", async () => {
    const orderId = await k.createOrder({});
    const none = await k.call("GET", `/ordermanagement/v1/orders/${orderId}`, undefined, { auth: undefined, headers: {} });
    expect(none.status).toBe(401);
    expect(none.data).toBe("401 Authorization Required");
    const wrong = await k.call("GET", `/ordermanagement/v1/orders/${orderId}`, undefined, { auth: { username: "merchant-uid", password: "nope" } });
    expect(wrong.status).toBe(401);
    expect(wrong.data).toBe("401 Authorization Required");
  });

  it("403 REFUND_NOT_ALLOWED: no captures, and over refund, with Klarna's exact messages", async () => {
    const uncaptured = await k.createOrder({ captured: false });
    expectKlarnaError(
      await k.call("POST", refunds(uncaptured), { refunded_amount: 100 }),
      403,
      "REFUND_NOT_ALLOWED",
      "Order has no captures. Refund not possible",
    );
    const captured = await k.createOrder({});
    expectKlarnaError(
      await k.call("POST", refunds(captured), { refunded_amount: 10001 }),
      403,
      "REFUND_NOT_ALLOWED",
      "Over refund is not allowed. Refund not possible.",
    );
    expect((await k.call("POST", refunds(captured), { refunded_amount: 6000 })).status).toBe(201);
    expectKlarnaError(
      await k.call("POST", refunds(captured), { refunded_amount: 4001 }),
      403,
      "REFUND_NOT_ALLOWED",
      "Over refund is not allowed. Refund not possible.",
    );
  });

  it("403 NOT_ALLOWED, CAPTURE_NOT_ALLOWED and CANCEL_NOT_ALLOWED when the state forbids the call", async () => {
    const open = await k.createOrder({ captured: false });
    expectKlarnaError(await k.call("POST", `/ordermanagement/v1/orders/${open}/release-remaining-authorization`), 403, "NOT_ALLOWED");
    expectKlarnaError(
      await k.call("POST", `/ordermanagement/v1/orders/${open}/captures`, { captured_amount: 10001 }),
      403,
      "CAPTURE_NOT_ALLOWED",
      "Captured amount is higher than the remaining authorized amount. Capture not possible.",
    );
    const captured = await k.createOrder({});
    expectKlarnaError(await k.call("POST", `/ordermanagement/v1/orders/${captured}/cancel`), 403, "CANCEL_NOT_ALLOWED");
    expect((await k.call("POST", `/ordermanagement/v1/orders/${open}/cancel`)).status).toBe(204);
    expectKlarnaError(
      await k.call("POST", `/ordermanagement/v1/orders/${open}/captures`, { captured_amount: 1 }),
      403,
      "CAPTURE_NOT_ALLOWED",
      /CANCELLED/,
    );
  });

  it("404 NO_SUCH_ORDER and 404 NOT_FOUND", async () => {
    expectKlarnaError(await k.call("POST", refunds("nope"), { refunded_amount: 1 }), 404, "NO_SUCH_ORDER", "Order nope cannot be found");
    const orderId = await k.createOrder({});
    expectKlarnaError(await k.call("GET", `${refunds(orderId)}/r-1`), 404, "NOT_FOUND", `Refund r-1 cannot be found for order ${orderId}`);
  });

  it("409 CONFLICT for a duplicate in flight (setting in_flight_duplicate=conflict)", async () => {
    await k.control("PATCH", "/settings", { in_flight_duplicate: "conflict" });
    const orderId = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: "/ordermanagement/v1/orders/*/refunds", delay_ms: 300 });
    const idem = key();
    const first = k.call("POST", refunds(orderId), { refunded_amount: 100 }, { headers: { "Klarna-Idempotency-Key": idem } });
    await new Promise((r) => setTimeout(r, 100));
    const second = await k.call("POST", refunds(orderId), { refunded_amount: 100 }, { headers: { "Klarna-Idempotency-Key": idem } });
    expectKlarnaError(second, 409, "CONFLICT");
    expect((await first).status).toBe(201);
    expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data.refunded_amount).toBe(100);
  });

  it("413 REQUEST_TOO_LARGE past 1 MB", async () => {
    const orderId = await k.createOrder({});
    const res = await k.call("POST", refunds(orderId), { refunded_amount: 1, description: "x".repeat(1_100_000) });
    expectKlarnaError(res, 413, "REQUEST_TOO_LARGE");
  });

  it("429 TOO_MANY_REQUESTS with Retry-After past the rate limit", async () => {
    const orderId = await k.createOrder({});
    await k.control("PATCH", "/settings", { rate_limit_per_second: 3 });
    const answers = await Promise.all(Array.from({ length: 6 }, () => k.call("GET", `/ordermanagement/v1/orders/${orderId}`)));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expectKlarnaError(limited[0], 429, "TOO_MANY_REQUESTS");
    expect(limited[0].headers["retry-after"]).toBe("1");
  });

  it.each([
    [500, "INTERNAL_SERVER_ERROR", "Unexpected server error"],
    [502, "TEMPORARILY_UNAVAILABLE", "Temporarily unavailable"],
    [503, "TEMPORARILY_UNAVAILABLE", "Temporarily unavailable"],
    [504, "TEMPORARILY_UNAVAILABLE", "Temporarily unavailable"],
  ])("%i %s (injected) changes nothing", async (status, code, message) => {
    const orderId = await k.createOrder({});
    await k.control("POST", "/faults", { path: refunds(orderId), status });
    expectKlarnaError(await k.call("POST", refunds(orderId), { refunded_amount: 100 }), status, code, message);
    expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data.refunded_amount).toBe(0);
  });
});

describe("return-fee rules, each broken alone", () => {
  const feeBody = SEED_REFUND;

  it("refuses when the order was captured in two captures", async () => {
    const orderId = await k.createOrder({ captured: [5000, 5000] });
    expectKlarnaError(await k.call("POST", refunds(orderId), feeBody), 403, "REFUND_NOT_ALLOWED", /single full capture/);
  });

  it("refuses when the one capture is not the full order", async () => {
    const orderId = await k.createOrder({ captured: [9999] });
    expectKlarnaError(
      await k.call("POST", refunds(orderId), {
        ...feeBody,
        refunded_amount: 9499,
        order_lines: [tshirt({ unit_price: 9999, total_amount: 9999 }), feeBody.order_lines![1]],
      }),
      403,
      "REFUND_NOT_ALLOWED",
      /single full capture/,
    );
  });

  it("refuses outside the return-fee markets, allows once the market is listed", async () => {
    const orderId = await k.createOrder({ purchase_country: "US", purchase_currency: "USD" });
    expectKlarnaError(await k.call("POST", refunds(orderId), feeBody), 403, "REFUND_NOT_ALLOWED", /market US/);
    await k.control("PATCH", "/settings", { return_fee_markets: ["DE", "US"] });
    expect((await k.call("POST", refunds(orderId), feeBody)).status).toBe(201);
  });

  it("refuses when the lines do not add up exactly to refunded_amount", async () => {
    const orderId = await k.createOrder({});
    expectKlarnaError(
      await k.call("POST", refunds(orderId), { ...feeBody, refunded_amount: 9600 }),
      403,
      "REFUND_NOT_ALLOWED",
      /add up to 9500, not to refunded_amount 9600/,
    );
  });

  it("rejects a zero-amount return fee line", async () => {
    const orderId = await k.createOrder({});
    const res = await k.call("POST", refunds(orderId), {
      refunded_amount: 10000,
      order_lines: [feeBody.order_lines![0], { name: "Return fee", type: "return_fee", quantity: 1, unit_price: 0, total_amount: 0 }],
    });
    expectKlarnaError(res, 400, "BAD_VALUE", /order_lines\[1\]\.total_amount/);
  });

  it("the refusal's status and code are a setting", async () => {
    await k.control("PATCH", "/settings", { return_fee_refusal: { status: 400, error_code: "BAD_VALUE" } });
    const orderId = await k.createOrder({ captured: [5000, 5000] });
    expectKlarnaError(await k.call("POST", refunds(orderId), feeBody), 400, "BAD_VALUE", /single full capture/);
  });

  it("without a return_fee line the same refunds pass (lines need not add up)", async () => {
    const orderId = await k.createOrder({ captured: [5000, 5000], purchase_country: "US", purchase_currency: "USD" });
    expect((await k.call("POST", refunds(orderId), { refunded_amount: 9000, order_lines: [tshirt()] })).status).toBe(201);
    const order = (await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data;
    expect(order.captures.map((c: any) => c.refunded_amount)).toEqual([5000, 4000]);
  });
});

describe("idempotency", () => {
  it("replays the first answer for the same key, ignoring the new body", async () => {
    const orderId = await k.createOrder({});
    const idem = key();
    const first = await k.call("POST", refunds(orderId), SEED_REFUND, { headers: { "Klarna-Idempotency-Key": idem } });
    const again = await k.call("POST", refunds(orderId), { refunded_amount: 1 }, { headers: { "Klarna-Idempotency-Key": idem } });
    expect(again.status).toBe(201);
    expect(again.headers["refund-id"]).toBe(first.headers["refund-id"]);
    expect(again.headers.location).toBe(first.headers.location);
    const order = (await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data;
    expect(order.refunded_amount).toBe(9500);
    expect(order.refunds).toHaveLength(1);
    const journal = (await k.control("GET", "/journal")).entries.filter((e: any) => e.idempotency_key === idem);
    expect(journal.map((e: any) => e.outcome)).toEqual(["answered", "replayed"]);
  });

  it("forgets the key after 24 hours of the emulator's clock: the retry refunds again", async () => {
    const orderId = await k.createOrder({});
    const idem = key();
    const first = await k.call("POST", refunds(orderId), { refunded_amount: 1000 }, { headers: { "Klarna-Idempotency-Key": idem } });
    await k.control("POST", "/clock", { advance_seconds: 24 * 3600 - 60 });
    const within = await k.call("POST", refunds(orderId), { refunded_amount: 1000 }, { headers: { "Klarna-Idempotency-Key": idem } });
    expect(within.headers["refund-id"]).toBe(first.headers["refund-id"]);
    await k.control("POST", "/clock", { advance_seconds: 120 });
    const after = await k.call("POST", refunds(orderId), { refunded_amount: 1000 }, { headers: { "Klarna-Idempotency-Key": idem } });
    expect(after.status).toBe(201);
    expect(after.headers["refund-id"]).not.toBe(first.headers["refund-id"]);
    expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data.refunded_amount).toBe(2000);
  });

  it("a failed first attempt is processed anew by default, replayed with replay_failed_requests", async () => {
    const orderId = await k.createOrder({ captured: false });
    const idem = key();
    const h = { headers: { "Klarna-Idempotency-Key": idem } };
    expect((await k.call("POST", refunds(orderId), { refunded_amount: 100 }, h)).status).toBe(403);
    await k.call("POST", `/ordermanagement/v1/orders/${orderId}/captures`, { captured_amount: 10000 });
    expect((await k.call("POST", refunds(orderId), { refunded_amount: 100 }, h)).status).toBe(201);

    await k.control("PATCH", "/settings", { replay_failed_requests: true });
    const other = await k.createOrder({ captured: false });
    const idem2 = key();
    const h2 = { headers: { "Klarna-Idempotency-Key": idem2 } };
    const refused = await k.call("POST", refunds(other), { refunded_amount: 100 }, h2);
    await k.call("POST", `/ordermanagement/v1/orders/${other}/captures`, { captured_amount: 10000 });
    const replayed = await k.call("POST", refunds(other), { refunded_amount: 100 }, h2);
    expect(replayed.status).toBe(403);
    expect(replayed.data.correlation_id).toBe(refused.data.correlation_id);
  });

  it("a duplicate in flight waits for the first and gets its answer (default setting)", async () => {
    const orderId = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: "/ordermanagement/v1/orders/*/refunds", delay_ms: 300 });
    const idem = key();
    const h = { headers: { "Klarna-Idempotency-Key": idem } };
    const [a, b] = await Promise.all([
      k.call("POST", refunds(orderId), { refunded_amount: 100 }, h),
      new Promise((r) => setTimeout(r, 50)).then(() => k.call("POST", refunds(orderId), { refunded_amount: 100 }, h)),
    ]);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers["refund-id"]).toBe(a.headers["refund-id"]);
    expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data.refunded_amount).toBe(100);
  });
});

describe("orders move as Klarna's do", () => {
  it("captures: PART_CAPTURED, then CAPTURED; release; acknowledge; merchant references", async () => {
    const orderId = await k.createOrder({ captured: false });
    const orders = `/ordermanagement/v1/orders/${orderId}`;
    const cap = await k.call(
      "POST",
      `${orders}/captures`,
      { captured_amount: 4000, order_lines: [] },
      { headers: { "Klarna-Idempotency-Key": key() } },
    );
    expect(cap.status).toBe(201);
    expect(cap.headers.location).toBe(`${k.url}${orders}/captures/${cap.headers["capture-id"]}`);
    let order = (await k.call("GET", orders)).data;
    expect(order).toMatchObject({ status: "PART_CAPTURED", captured_amount: 4000, remaining_authorized_amount: 6000 });
    expect((await k.call("GET", `${orders}/captures/${cap.headers["capture-id"]}`)).data.captured_amount).toBe(4000);
    expect((await k.call("GET", `${orders}/captures`)).data).toHaveLength(1);
    expect((await k.call("POST", `${orders}/release-remaining-authorization`)).status).toBe(204);
    order = (await k.call("GET", orders)).data;
    expect(order).toMatchObject({ status: "CAPTURED", order_amount: 4000, original_order_amount: 10000, remaining_authorized_amount: 0 });
    expect((await k.call("POST", `${orders}/acknowledge`)).status).toBe(204);
    expect((await k.call("PATCH", `${orders}/merchant-references`, { merchant_reference1: "order_01" })).status).toBe(204);
    expect((await k.call("GET", orders)).data.merchant_reference1).toBe("order_01");
    expectKlarnaError(
      await k.call("PATCH", `${orders}/merchant-references`, { merchant_reference1: "x".repeat(256) }),
      400,
      "BAD_VALUE",
      "Bad value: merchant_reference1",
    );
  });

  it("a PENDING fraud status blocks capture", async () => {
    const res = await k.control("POST", "/orders", {
      purchase_country: "DE",
      purchase_currency: "EUR",
      order_lines: [tshirt()],
      fraud_status: "PENDING",
    });
    expectKlarnaError(
      await k.call("POST", `/ordermanagement/v1/orders/${res.order_id}/captures`, { captured_amount: 10000 }),
      403,
      "CAPTURE_NOT_ALLOWED",
      /PENDING/,
    );
  });
});

describe("Klarna Payments: session, shopper authorisation, order", () => {
  const session = {
    purchase_country: "DE",
    purchase_currency: "EUR",
    locale: "de-DE",
    order_amount: 11900,
    order_tax_amount: 1900,
    order_lines: [
      {
        type: "physical",
        name: "Hoodie",
        reference: "HD-1",
        quantity: 1,
        unit_price: 11900,
        tax_rate: 1900,
        total_amount: 11900,
        total_tax_amount: 1900,
      },
    ],
  };

  it("creates, updates and reads a session; the shopper authorises; the order is placed once", async () => {
    const created = await k.call("POST", "/payments/v1/sessions", session);
    expect(created.status).toBe(200);
    expect(created.data.payment_method_categories.length).toBeGreaterThan(0);
    const sid = created.data.session_id;
    expect(typeof created.data.client_token).toBe("string");
    expect((await k.call("POST", `/payments/v1/sessions/${sid}`, { locale: "en-DE" })).status).toBe(204);
    expect((await k.call("GET", `/payments/v1/sessions/${sid}`)).data).toMatchObject({ locale: "en-DE", status: "incomplete" });

    const auth = await k.control("POST", `/sessions/${sid}/authorize`, {});
    expect(auth.approved).toBe(true);
    const placed = await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, {
      ...session,
      merchant_reference1: "cart_1",
    });
    expect(placed.status).toBe(200);
    expect(placed.data.fraud_status).toBe("ACCEPTED");
    const order = (await k.call("GET", `/ordermanagement/v1/orders/${placed.data.order_id}`)).data;
    expect(order).toMatchObject({ status: "AUTHORIZED", order_amount: 11900, purchase_country: "DE", merchant_reference1: "cart_1" });
    expect(order.order_lines).toEqual(session.order_lines);
    expect((await k.call("GET", `/payments/v1/sessions/${sid}`)).data.status).toBe("complete");
    expectKlarnaError(await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, session), 409, "CONFLICT");
  });

  it("checks the session's amounts and the order against the session", async () => {
    expectKlarnaError(await k.call("POST", "/payments/v1/sessions", { ...session, order_amount: 11899 }), 400, "BAD_VALUE", /order_amount/);
    expectKlarnaError(await k.call("POST", "/payments/v1/sessions", { ...session, order_tax_amount: 1000 }), 400, "BAD_VALUE", /order_tax_amount/);
    expectKlarnaError(await k.call("POST", "/payments/v1/sessions", { ...session, order_lines: [] }), 400, "BAD_VALUE", "Bad value: order_lines");
    const sid = (await k.call("POST", "/payments/v1/sessions", session)).data.session_id;
    const auth = await k.control("POST", `/sessions/${sid}/authorize`, { fraud_status: "PENDING" });
    expectKlarnaError(
      await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, { ...session, purchase_currency: "SEK" }),
      409,
      "CONFLICT",
    );
    const placed = await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, session);
    expect(placed.data.fraud_status).toBe("PENDING");
  });

  it("a refused authorisation gives no token; a cancelled one cannot place an order", async () => {
    const sid = (await k.call("POST", "/payments/v1/sessions", session)).data.session_id;
    expect(await k.control("POST", `/sessions/${sid}/authorize`, { approved: false })).toEqual({ approved: false, show_form: false });
    const auth = await k.control("POST", `/sessions/${sid}/authorize`, {});
    expect((await k.call("DELETE", `/payments/v1/authorizations/${auth.authorization_token}`)).status).toBe(204);
    expectKlarnaError(await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, session), 404, "NOT_FOUND");
  });
});

describe("fault injection and control endpoints", () => {
  it("drop before: the connection dies and nothing changes", async () => {
    const orderId = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: "/ordermanagement/v1/orders/*/refunds", drop: "before" });
    await expect(k.call("POST", refunds(orderId), { refunded_amount: 100 })).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data.refunded_amount).toBe(0);
  });

  it("drop after: the refund is made but no answer arrives", async () => {
    const orderId = await k.createOrder({});
    await k.control("POST", "/faults", { method: "POST", path: refunds(orderId), drop: "after" });
    await expect(k.call("POST", refunds(orderId), { refunded_amount: 100 })).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).data.refunded_amount).toBe(100);
    const entry = (await k.control("GET", "/journal")).entries.find((e: any) => e.method === "POST");
    expect(entry.outcome).toBe("dropped_after");
    expect(entry.response.status).toBe(201);
  });

  it("a fault applies to the next N matching requests only, with Retry-After when asked", async () => {
    const orderId = await k.createOrder({});
    const fault = await k.control("POST", "/faults", { method: "GET", path: "/ordermanagement/v1/orders/*", status: 429, retry_after: 7, times: 2 });
    expect(fault.remaining).toBe(2);
    const a = await k.call("GET", `/ordermanagement/v1/orders/${orderId}`);
    expect(a.status).toBe(429);
    expect(a.headers["retry-after"]).toBe("7");
    expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).status).toBe(429);
    expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).status).toBe(200);
    expect((await k.control("GET", "/faults")).faults).toEqual([]);
  });

  it("a delay holds the answer", async () => {
    const orderId = await k.createOrder({});
    await k.control("POST", "/faults", { path: `/ordermanagement/v1/orders/${orderId}`, delay_ms: 250 });
    const t = Date.now();
    expect((await k.call("GET", `/ordermanagement/v1/orders/${orderId}`)).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(240);
  });

  it("rejects malformed control requests and never shows the password", async () => {
    await expect(k.control("POST", "/faults", { path: "/x" })).rejects.toThrow(/400/);
    await expect(k.control("PATCH", "/settings", { om_line_arithmetic: "loose" })).rejects.toThrow(/400/);
    await expect(k.control("POST", "/orders", { purchase_country: "DE" })).rejects.toThrow(/400/);
    const settings = await k.control("GET", "/settings");
    expect(JSON.stringify(settings)).not.toContain("s3cr3t");
    expect(settings.return_fee_markets).toEqual(["AT", "DE", "DK", "FI", "FR", "NL", "NO", "SE"]);
  });

  it("the journal lists requests in order with key and body; DELETE and reset clear state", async () => {
    const orderId = await k.createOrder({});
    const idem = key();
    await k.call("POST", refunds(orderId), { refunded_amount: 5 }, { headers: { "Klarna-Idempotency-Key": idem } });
    await k.call("GET", `/ordermanagement/v1/orders/${orderId}`);
    const { entries } = await k.control("GET", "/journal");
    expect(entries.map((e: any) => [e.method, e.path])).toEqual([
      ["POST", refunds(orderId)],
      ["GET", `/ordermanagement/v1/orders/${orderId}`],
    ]);
    expect(entries[0]).toMatchObject({ idempotency_key: idem, body: { refunded_amount: 5 }, response: { status: 201 } });
    expect(JSON.stringify(entries)).not.toContain("s3cr3t");
    expect((await k.control("GET", `/journal?since=${entries[0].seq}`)).entries).toHaveLength(1);
    await k.control("DELETE", "/journal");
    expect((await k.control("GET", "/journal")).entries).toEqual([]);
    await k.control("POST", "/reset");
    expectKlarnaError(await k.call("GET", `/ordermanagement/v1/orders/${orderId}`), 404, "NO_SUCH_ORDER");
  });
});
