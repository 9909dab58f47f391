import { germanSession, RunningEmulator, startEmulator } from "../support/emulator";
import { checkout, expectKlarnaError } from "../support/klarna-answers";

/** Klarna Payments checkout shapes and refusals (payments.yml; Klarna docs; KLARNA.md). */
let k: RunningEmulator;
beforeAll(async () => {
  k = await startEmulator();
});
afterAll(() => k.stop());
beforeEach(() => k.control("POST", "/reset"));

const de = germanSession();

describe("US sales tax (Klarna's recommended US shape: tax as one `sales_tax` line, item lines at tax_rate 0)", () => {
  const us = {
    purchase_country: "US",
    purchase_currency: "USD",
    locale: "en-US",
    order_amount: 10800,
    order_tax_amount: 800,
    order_lines: [
      {
        type: "physical",
        reference: "TS-1",
        name: "T-Shirt",
        quantity: 2,
        unit_price: 5000,
        tax_rate: 0,
        total_amount: 10000,
        total_discount_amount: 0,
        total_tax_amount: 0,
      },
      {
        type: "sales_tax",
        name: "Sales Tax",
        quantity: 1,
        unit_price: 800,
        tax_rate: 0,
        total_amount: 800,
        total_discount_amount: 0,
        total_tax_amount: 0,
      },
    ],
  };

  it("is accepted: order_tax_amount equals the sales_tax line", async () => {
    const { placed } = await checkout(k, us);
    expect(placed.status).toBe(200);
    expect((await k.call("GET", `/ordermanagement/v1/orders/${placed.data.order_id}`)).data).toMatchObject({
      order_amount: 10800,
      purchase_country: "US",
    });
  });

  it("an order_tax_amount other than the sales tax is refused", async () => {
    expectKlarnaError(
      await k.call("POST", "/payments/v1/sessions", { ...us, order_tax_amount: 0 }),
      400,
      "BAD_VALUE",
      /order_tax_amount differs from the sum of order_lines\.total_tax_amount \[800\]/,
    );
  });
});

describe("a `return_fee` line is not a checkout line (payments.yml order_line.type lists eight types, return_fee is Order Management's)", () => {
  const fee = { type: "return_fee", name: "Return fee", quantity: 1, unit_price: -500, total_amount: -500 };
  const withFee = { ...de, order_amount: 9500, order_tax_amount: 1597, order_lines: [de.order_lines[0], fee] };

  it("a session refuses it with BAD_VALUE naming the line", async () => {
    expectKlarnaError(await k.call("POST", "/payments/v1/sessions", withFee), 400, "BAD_VALUE", "Bad value: order_lines[1].type");
  });

  it("placing the order refuses it too, and no order is made", async () => {
    const sid = (await k.call("POST", "/payments/v1/sessions", de)).data.session_id;
    const auth = await k.control("POST", `/sessions/${sid}/authorize`, {});
    expectKlarnaError(
      await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, withFee),
      400,
      "BAD_VALUE",
      "Bad value: order_lines[1].type",
    );
    expect(k.emulator.state.orders.size).toBe(0);
  });
});

describe("an authorisation Klarna rejects places no order (payments.yml `order.fraud_status`: 'Either ACCEPTED or PENDING')", () => {
  it("403 REJECTED (Klarna Payments error codes) with a readable message; no order exists; the session stays open", async () => {
    const { session_id, authorization_token, placed } = await checkout(k, de, { authorize: { fraud_status: "REJECTED" } });
    expectKlarnaError(placed, 403, "REJECTED", /rejected by Klarna.*No order was created/);
    expect(placed.data.order_id).toBeUndefined();
    expect(k.emulator.state.orders.size).toBe(0);
    expect((await k.call("GET", `/payments/v1/sessions/${session_id}`)).data.status).toBe("incomplete");
    // A retry is refused the same way, and still makes no order.
    expectKlarnaError(await k.call("POST", `/payments/v1/authorizations/${authorization_token}/order`, de), 403, "REJECTED");
    expect(k.emulator.state.orders.size).toBe(0);
  });
});

describe("the authorization token places an order for 60 minutes (Klarna docs, 'Create an order' errors)", () => {
  it("later: 404 NOT_FOUND 'Invalid authorization token'; the TTL is the setting authorization_token_ttl_minutes", async () => {
    const sid = (await k.call("POST", "/payments/v1/sessions", de)).data.session_id;
    const auth = await k.control("POST", `/sessions/${sid}/authorize`, {});
    await k.control("POST", "/clock", { advance_seconds: 61 * 60 });
    expectKlarnaError(
      await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, de),
      404,
      "NOT_FOUND",
      "Invalid authorization token",
    );

    await k.control("PATCH", "/settings", { authorization_token_ttl_minutes: 120 });
    expect((await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, de)).status).toBe(200);
  });
});

describe("POST /payments/v1/authorizations/{token}/customer-token (payments.yml purchaseToken)", () => {
  const tokenRequest = {
    description: "Monthly socks",
    intended_use: "SUBSCRIPTION",
    locale: "de-DE",
    purchase_country: "DE",
    purchase_currency: "EUR",
  };

  it("answers a customer_token_creation_response; the same authorization can also place the order (buy_and_tokenize)", async () => {
    const billing = { given_name: "Jane", family_name: "Doe", country: "DE" };
    const sid = (await k.call("POST", "/payments/v1/sessions", { ...de, intent: "buy_and_tokenize", billing_address: billing })).data.session_id;
    const auth = await k.control("POST", `/sessions/${sid}/authorize`, {});
    const res = await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/customer-token`, tokenRequest);
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ token_id: expect.any(String), redirect_url: expect.any(String), billing_address: billing });
    expect((await k.call("POST", `/payments/v1/authorizations/${auth.authorization_token}/order`, de)).status).toBe(200);
  });

  it("refuses what the spec refuses: 400 for a missing field or another intended_use, 409 another market, 404 unknown token", async () => {
    const sid = (await k.call("POST", "/payments/v1/sessions", de)).data.session_id;
    const auth = await k.control("POST", `/sessions/${sid}/authorize`, {});
    const post = (body: unknown, token = auth.authorization_token) => k.call("POST", `/payments/v1/authorizations/${token}/customer-token`, body);
    expectKlarnaError(await post({ ...tokenRequest, description: undefined }), 400, "BAD_VALUE", "Bad value: description");
    expectKlarnaError(await post({ ...tokenRequest, intended_use: "GIFT" }), 400, "BAD_VALUE", "Bad value: intended_use");
    expectKlarnaError(await post({ ...tokenRequest, purchase_country: "SE", purchase_currency: "SEK" }), 409, "CONFLICT");
    expectKlarnaError(await post(tokenRequest, "nope"), 404, "NOT_FOUND");
  });
});
