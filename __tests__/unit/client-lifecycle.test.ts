import { v4 as uuidv4, validate as isUuid } from "uuid";
import { KlarnaApiError } from "../../src";
import { RunningEmulator, startEmulator, tshirt } from "../support/emulator";
import { specProblems } from "../support/openapi";

/** The client's calls for the rest of an order's life, against the emulator over real HTTP: no mocks. */
let k: RunningEmulator;
beforeAll(async () => {
  k = await startEmulator();
});
afterAll(() => k.stop());
beforeEach(() => k.control("POST", "/reset"));

const journal = async () => (await k.control("GET", "/journal")).entries as any[];

/** Every request the client sent must match Klarna's published request schema. */
afterEach(async () => {
  const problems = (await journal()).flatMap((e) => specProblems(e.method, e.path, e.body));
  expect(problems).toEqual([]);
});

const DAY_MS = 24 * 3600_000;

describe("typed calls, each with its Klarna-Idempotency-Key", () => {
  it("extendAuthorizationTime moves expires_at; refused on an expired order with KlarnaApiError 403 NOT_ALLOWED", async () => {
    const c = k.client();
    const id = await k.createOrder({ captured: false });
    const before = Date.parse((await c.getOrder(id)).expires_at);
    await k.control("POST", "/clock", { advance_seconds: 10 * 24 * 3600 });
    const key = uuidv4();
    await c.extendAuthorizationTime(id, { idempotencyKey: key });
    const after = Date.parse((await c.getOrder(id)).expires_at);
    expect(after - before).toBeGreaterThanOrEqual(10 * DAY_MS);
    const entry = (await journal()).find((e) => e.path.endsWith("/extend-authorization-time"));
    expect(entry).toMatchObject({ method: "POST", idempotency_key: key, response: { status: 204 } });

    const expired = await k.createOrder({ captured: false });
    await k.control("POST", "/clock", { advance_seconds: 29 * 24 * 3600 });
    const err = await c.extendAuthorizationTime(expired).catch((e) => e);
    expect(err).toBeInstanceOf(KlarnaApiError);
    expect(err).toMatchObject({
      status: 403,
      error_code: "NOT_ALLOWED",
      error_messages: ["Order is expired. Authorization time cannot be extended."],
    });
  });

  it("updateAuthorization sets order_amount and lines; below the captured amount it is Klarna's 403", async () => {
    const c = k.client();
    const id = await k.createOrder({ captured: [3000] });
    const lines = [tshirt({ unit_price: 8000, total_amount: 8000 })];
    await c.updateAuthorization(id, { order_amount: 8000, order_lines: lines, description: "One item out of stock" });
    expect(await c.getOrder(id)).toMatchObject({ order_amount: 8000, remaining_authorized_amount: 5000, order_lines: lines });
    await expect(c.updateAuthorization(id, { order_amount: 2000 })).rejects.toMatchObject({
      status: 403,
      error_code: "NOT_ALLOWED",
      error_messages: [
        "Resulting authorization amount 2000 cannot be less than the captured amount 3000 for order. Order authorization cannot be updated",
      ],
    });
    const patch = (await journal()).filter((e) => e.method === "PATCH");
    expect(patch.every((e) => isUuid(e.idempotency_key))).toBe(true);
  });

  it("addShippingInfo appends to the capture; on an order without captures it is Klarna's 403", async () => {
    const c = k.client();
    const id = await k.createOrder({ captured: false });
    const { captureId } = await c.captureOrder(id, { captured_amount: 5000, order_lines: [tshirt({ unit_price: 5000, total_amount: 5000 })] });
    const info = {
      shipping_company: "DHL US",
      shipping_method: "Home" as const,
      tracking_number: "63456415674545679874",
      tracking_uri: "http://shipping.example/findmypackage?63456415674545679874",
    };
    await c.addShippingInfo(id, captureId, { shipping_info: [info] });
    await c.addShippingInfo(id, captureId, {
      shipping_info: [{ return_shipping_company: "DHL US", return_tracking_number: "93456415674545679888" }],
    });
    expect((await c.getCapture(id, captureId)).shipping_info).toEqual([
      info,
      { return_shipping_company: "DHL US", return_tracking_number: "93456415674545679888" },
    ]);
    const open = await k.createOrder({ captured: false });
    await expect(c.addShippingInfo(open, captureId, { shipping_info: [info] })).rejects.toMatchObject({
      status: 403,
      error_code: "NOT_ALLOWED",
      error_messages: ["Order has no captures."],
    });
  });

  it("updateCustomerDetails changes the shipping address", async () => {
    const c = k.client();
    const id = await k.createOrder({ captured: false });
    const address = {
      given_name: "Klara",
      family_name: "Joyce",
      street_address: "Apartment 10",
      postal_code: "12345",
      city: "Knoxville",
      region: "TN",
      country: "US",
    };
    await c.updateCustomerDetails(id, { shipping_address: address });
    expect((await c.getOrder(id)).shipping_address).toEqual(address);
  });

  it("triggerSendOut answers 204; for a capture that does not exist, 404 NO_SUCH_CAPTURE", async () => {
    const c = k.client();
    const id = await k.createOrder({});
    const captureId = (await c.getOrder(id)).captures[0].capture_id;
    await c.triggerSendOut(id, captureId);
    await expect(c.triggerSendOut(id, "c-1")).rejects.toMatchObject({ status: 404, error_code: "NO_SUCH_CAPTURE" });
    const sent = (await journal()).filter((e) => e.path.endsWith("/trigger-send-out"));
    expect(sent.map((e) => e.response.status)).toEqual([204, 404]);
    expect(sent.every((e) => isUuid(e.idempotency_key))).toBe(true);
  });

  it("a retried call reuses its key: a 503 then the answer, registered once", async () => {
    const c = k.client();
    const id = await k.createOrder({ captured: false });
    await k.control("POST", "/faults", { method: "PATCH", path: "/ordermanagement/v1/orders/*/authorization", status: 503 });
    await c.updateAuthorization(id, { order_amount: 9000, order_lines: [tshirt({ unit_price: 9000, total_amount: 9000 })] });
    const tries = (await journal()).filter((e) => e.method === "PATCH");
    expect(tries.map((e) => e.response.status)).toEqual([503, 204]);
    expect(new Set(tries.map((e) => e.idempotency_key)).size).toBe(1);
  });
});

describe("Klarna's schemas for the new request bodies (the checks above rely on them)", () => {
  it.each([
    ["PATCH", "/ordermanagement/v1/orders/o/authorization", { order_amount: -1 }, "/order_amount"],
    ["PATCH", "/ordermanagement/v1/orders/o/authorization", { order_lines: [] }, "order_amount"],
    ["POST", "/ordermanagement/v1/orders/o/captures/c/shipping-info", { shipping_info: [] }, "/shipping_info"],
    [
      "POST",
      "/ordermanagement/v1/orders/o/captures/c/shipping-info",
      { shipping_info: [{ tracking_uri: "x".repeat(1025) }] },
      "/shipping_info/0/tracking_uri",
    ],
    ["PATCH", "/ordermanagement/v1/orders/o/customer-details", { shipping_address: { postal_code: "12345678901" } }, "/shipping_address/postal_code"],
    ["PATCH", "/ordermanagement/v1/orders/o/merchant-references", { merchant_reference1: "x".repeat(256) }, "/merchant_reference1"],
  ])("%s %s rejects a broken body", (method, path, body, where) => {
    expect(specProblems(method, path, body).join("\n")).toContain(where);
  });
});
