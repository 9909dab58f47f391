import { v4 as uuidv4 } from "uuid";
import type { FraudStatus, SessionRequest } from "../../klarna/types";
import { checkSessionAmounts, KlarnaRefusal, parseBody, sessionBody } from "../rules";
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
    method: "POST",
    path: "/payments/v1/authorizations/:token/order",
    handler: ({ state, params, body }) => {
      const auth = findAuthorization(state, params.token);
      const parsed = parseBody(sessionBody, body);
      checkSessionAmounts(parsed);
      if (auth.state === "used") {
        throw new KlarnaRefusal(409, "CONFLICT", ["The authorization was already used to place an order."]);
      }
      const session = findSession(state, auth.session_id);
      if (
        parsed.purchase_country.toUpperCase() !== session.body.purchase_country.toUpperCase() ||
        parsed.purchase_currency.toUpperCase() !== session.body.purchase_currency.toUpperCase()
      ) {
        throw new KlarnaRefusal(409, "CONFLICT", [
          "The data in the request does not match the session for the authorization (purchase_country/purchase_currency).",
        ]);
      }
      const order = state.createOrder({ ...parsed, fraud_status: auth.fraud_status });
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
  state.authorizations.set(token, { authorization_token: token, session_id: sessionId, fraud_status, state: "open" });
  session.authorization_token = token;
  return { approved: true, show_form: true, authorization_token: token, fraud_status };
}
