import { v4 as uuidv4 } from "uuid";
import type { FraudStatus, SessionRequest } from "../../klarna/types";
import { checkSessionAmounts, customerTokenRequest, KlarnaRefusal, parseBody, sessionBody } from "../rules";
import type { AuthorizationState, EmulatorState, SessionState } from "../state";
import { noContent, ok, type Route } from "./route";

/** Klarna Payments: sessions, authorizations and placing the order (payments.yml). */

const PAYMENT_METHOD_CATEGORIES = [
  {
    identifier: "pay_later",
    name: "Pay later.",
    asset_urls: {
      descriptive: "https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg",
      standard: "https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg",
    },
  },
  {
    identifier: "pay_over_time",
    name: "Financing.",
    asset_urls: {
      descriptive: "https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg",
      standard: "https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg",
    },
  },
];

function findSession(state: EmulatorState, id: string): SessionState {
  const session = state.sessions.get(id);
  if (!session) throw new KlarnaRefusal(404, "NOT_FOUND", [`Session ${id} cannot be found`]);
  return session;
}

function findAuthorization(state: EmulatorState, token: string): AuthorizationState {
  const auth = state.authorizations.get(token);
  if (!auth || auth.state === "cancelled") {
    throw new KlarnaRefusal(404, "NOT_FOUND", [`Authorization ${token} cannot be found`]);
  }
  return auth;
}

/**
 * The session of an authorization that may still be used for this request: 404 "Invalid authorization
 * token" once it is older than `authorization_token_ttl_minutes` (docs "Create an order" errors), 409
 * when the request's purchase_country or purchase_currency is not the session's.
 */
function authorizedSession(
  state: EmulatorState,
  auth: AuthorizationState,
  request: { purchase_country: string; purchase_currency: string },
): SessionState {
  if (state.now() - auth.authorized_at > state.settings.authorization_token_ttl_minutes * 60_000) {
    throw new KlarnaRefusal(404, "NOT_FOUND", ["Invalid authorization token"]);
  }
  const session = findSession(state, auth.session_id);
  if (
    request.purchase_country.toUpperCase() !== session.body.purchase_country.toUpperCase() ||
    request.purchase_currency.toUpperCase() !== session.body.purchase_currency.toUpperCase()
  ) {
    throw new KlarnaRefusal(409, "CONFLICT", [
      "The data in the request does not match the session for the authorization (purchase_country/purchase_currency).",
    ]);
  }
  return session;
}

export const paymentRoutes: Route[] = [
  {
    method: "POST",
    path: "/payments/v1/sessions",
    handler: ({ state, body }) => {
      const parsed = parseBody(sessionBody, body);
      checkSessionAmounts(parsed);
      const session: SessionState = {
        session_id: uuidv4(),
        client_token: "emulator." + Buffer.from(uuidv4()).toString("base64url"),
        body: parsed as SessionRequest,
        status: "incomplete",
        created_at: state.now(),
      };
      state.sessions.set(session.session_id, session);
      return ok({
        session_id: session.session_id,
        client_token: session.client_token,
        payment_method_categories: PAYMENT_METHOD_CATEGORIES,
      });
    },
  },
  {
    method: "POST",
    path: "/payments/v1/sessions/:session_id",
    handler: ({ state, params, body }) => {
      const session = findSession(state, params.session_id);
      if (session.status === "complete") {
        throw new KlarnaRefusal(409, "CONFLICT", ["The session is complete: an order was already placed."]);
      }
      const merged = parseBody(sessionBody, { ...session.body, ...(body as object) });
      checkSessionAmounts(merged);
      session.body = merged as SessionRequest;
      return noContent();
    },
  },
  {
    method: "GET",
    path: "/payments/v1/sessions/:session_id",
    handler: ({ state, params }) => {
      const session = findSession(state, params.session_id);
      return ok({
        ...session.body,
        client_token: session.client_token,
        status: session.status,
        authorization_token: session.authorization_token,
        expires_at: new Date(session.created_at + 48 * 3600_000).toISOString(),
        payment_method_categories: PAYMENT_METHOD_CATEGORIES,
      });
    },
  },
  {
    // `createOrder`: 200 `order`; 400 field constraint; 403 (Klarna Payments' REJECTED, docs "Error codes
    // and messages for Klarna Payments"); 404 the authorization does not exist, or is older than
    // `authorization_token_ttl_minutes` ("Invalid authorization token", docs "Create an order" errors);
    // 409 the data does not match the session.
    method: "POST",
    path: "/payments/v1/authorizations/:token/order",
    handler: ({ state, params, body }) => {
      const auth = findAuthorization(state, params.token);
      const parsed = parseBody(sessionBody, body);
      checkSessionAmounts(parsed);
      if (auth.state === "used") {
        throw new KlarnaRefusal(409, "CONFLICT", ["The authorization was already used to place an order."]);
      }
      const session = authorizedSession(state, auth, parsed);
      // The spec's `order.fraud_status` is "Either ACCEPTED or PENDING": a purchase Klarna rejects is
      // refused and no order exists for it.
      if (auth.fraud_status === "REJECTED") {
        throw new KlarnaRefusal(403, "REJECTED", [
          "The purchase was rejected by Klarna (fraud status REJECTED). No order was created; ask the customer to choose another payment method.",
        ]);
      }
      const order = state.createOrder({
        ...parsed,
        // What the order request does not repeat, the session gave (addresses, customer, URLs).
        merchant_data: parsed.merchant_data ?? session.body.merchant_data,
        billing_address: parsed.billing_address ?? session.body.billing_address,
        shipping_address: parsed.shipping_address ?? session.body.shipping_address,
        customer: parsed.customer ?? session.body.customer,
        merchant_urls: { ...session.body.merchant_urls, ...parsed.merchant_urls },
        session_id: session.session_id,
        initial_payment_method: { type: "INVOICE", description: "Pay later in 30 days" },
        fraud_status: auth.fraud_status,
      });
      auth.state = "used";
      auth.order_id = order.order_id;
      session.status = "complete";
      return ok({
        order_id: order.order_id,
        fraud_status: order.fraud_status,
        redirect_url: `https://emulator.klarna.invalid/v1/sessions/${session.session_id}/redirect`,
        authorized_payment_method: { type: "invoice", number_of_days: 30 },
      });
    },
  },
  {
    // `purchaseToken`: a customer token for later purchases (subscriptions) instead of, or besides
    // (intent buy_and_tokenize), placing the order. 200 `customer_token_creation_response`; 400; 403
    // REJECTED; 404 the authorization does not exist or is too old; 409 not matching the session.
    method: "POST",
    path: "/payments/v1/authorizations/:token/customer-token",
    handler: ({ state, params, body }) => {
      const auth = findAuthorization(state, params.token);
      const parsed = parseBody(customerTokenRequest, body);
      const session = authorizedSession(state, auth, parsed);
      if (auth.fraud_status === "REJECTED") {
        throw new KlarnaRefusal(403, "REJECTED", ["The purchase was rejected by Klarna (fraud status REJECTED). No customer token was created."]);
      }
      const customer = parsed.customer ?? session.body.customer;
      return ok({
        token_id: uuidv4(),
        payment_method_reference: uuidv4(),
        redirect_url: `https://emulator.klarna.invalid/v1/sessions/${session.session_id}/redirect`,
        billing_address: parsed.billing_address ?? session.body.billing_address,
        customer: customer ? { date_of_birth: customer.date_of_birth, gender: customer.gender } : undefined,
      });
    },
  },
  {
    method: "DELETE",
    path: "/payments/v1/authorizations/:token",
    handler: ({ state, params }) => {
      const auth = findAuthorization(state, params.token);
      auth.state = "cancelled";
      return noContent();
    },
  },
];

/** What Klarna's widget does in the shopper's browser: authorise a session, get a token. */
export function authorizeSession(
  state: EmulatorState,
  sessionId: string,
  opts: { approved?: boolean; fraud_status?: FraudStatus } = {},
): { approved: boolean; show_form: boolean; authorization_token?: string; fraud_status?: FraudStatus } {
  const session = findSession(state, sessionId);
  if (opts.approved === false) return { approved: false, show_form: false };
  const token = uuidv4();
  const fraud_status = opts.fraud_status ?? "ACCEPTED";
  state.authorizations.set(token, { authorization_token: token, session_id: sessionId, fraud_status, state: "open", authorized_at: state.now() });
  session.authorization_token = token;
  return { approved: true, show_form: true, authorization_token: token, fraud_status };
}
