import type { Order } from "../../klarna/types";
import {
  checkLineArithmetic,
  checkOrderAmount,
  checkShippingInfo,
  KlarnaRefusal,
  merchantReferences,
  omAddress,
  parseBody,
  updateAuthorization,
  updateConsumer,
  updateShippingInfo,
} from "../rules";
import { DAY_MS, type EmulatorState } from "../state";
import { findOrder, noContent, ok, type Route } from "./route";

/** Order Management: the order itself and the calls that move its state (order-management.yml, tag "Orders"). */
export const orderRoutes: Route[] = [
  {
    method: "GET",
    path: "/ordermanagement/v1/orders/:order_id",
    handler: ({ state, params }) => ok(findOrder(state, params.order_id)),
  },
  {
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/acknowledge",
    handler: ({ state, params }) => {
      findOrder(state, params.order_id);
      return noContent();
    },
  },
  {
    // `updateMerchantReferences`: 403 "Can not update a cancelled order." (the spec's own words).
    method: "PATCH",
    path: "/ordermanagement/v1/orders/:order_id/merchant-references",
    handler: ({ state, params, body }) => {
      const order = findOrder(state, params.order_id);
      const refs = parseBody(merchantReferences, body);
      if (order.status === "CANCELLED") throw new KlarnaRefusal(403, "NOT_ALLOWED", ["Can not update a cancelled order."]);
      if (refs.merchant_reference1 !== undefined) order.merchant_reference1 = refs.merchant_reference1;
      if (refs.merchant_reference2 !== undefined) order.merchant_reference2 = refs.merchant_reference2;
      return noContent();
    },
  },
  {
    // `cancelOrder`: 403 CANCEL_NOT_ALLOWED "e.g. order has captures or is closed"; message from Klarna's
    // error page ("Order has previous captures. Cancel not possible").
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/cancel",
    handler: ({ state, params }) => {
      const order = findOrder(state, params.order_id);
      if (order.captures.length > 0) {
        throw new KlarnaRefusal(403, "CANCEL_NOT_ALLOWED", ["Order has previous captures. Cancel not possible."]);
      }
      if (order.status !== "AUTHORIZED") {
        throw new KlarnaRefusal(403, "CANCEL_NOT_ALLOWED", [`Order is ${order.status}. Cancel not possible.`]);
      }
      order.status = "CANCELLED";
      order.remaining_authorized_amount = 0;
      return noContent();
    },
  },
  {
    // `releaseRemainingAuthorization`: 403 "Can not release when order is cancelled or has no captures";
    // a fully captured order has nothing left to release (KLARNA.md, "The rest of an order's life").
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/release-remaining-authorization",
    handler: ({ state, params }) => {
      const order = findOrder(state, params.order_id);
      if (order.captures.length === 0) {
        throw new KlarnaRefusal(403, "NOT_ALLOWED", [
          "Order has no captures. Release of remaining authorization not possible; cancel the order instead.",
        ]);
      }
      if (order.status === "CANCELLED" || order.status === "EXPIRED" || order.status === "CLOSED") {
        throw new KlarnaRefusal(403, "NOT_ALLOWED", [`Order is ${order.status}. Release not possible.`]);
      }
      if (order.status === "CAPTURED" || order.remaining_authorized_amount === 0) {
        throw new KlarnaRefusal(403, "NOT_ALLOWED", ["Order is fully captured. Remaining authorization cannot be released."]);
      }
      order.order_amount = order.captured_amount;
      order.remaining_authorized_amount = 0;
      order.status = "CAPTURED";
      return noContent();
    },
  },
  {
    // `extendAuthorizationTime` (no body, 204). Klarna docs "Extend order authorization time": the new
    // `expires_at` is the day of the extension plus the account's expiry days, at most 180 days after
    // the order was created; an expired order cannot be extended ("Order is expired. Authorization
    // time cannot be extended."), nor a cancelled one (spec: "The order being expired or cancelled are
    // among the possible causes").
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/extend-authorization-time",
    handler: ({ state, params }) => {
      const order = findOrder(state, params.order_id);
      const refuse = (why: string) => new KlarnaRefusal(403, "NOT_ALLOWED", [`${why} Authorization time cannot be extended.`]);
      if (order.status === "CANCELLED") throw refuse("Order is cancelled.");
      if (order.status === "EXPIRED" || state.isExpired(order)) throw refuse("Order is expired.");
      if (order.status === "CAPTURED" || order.status === "CLOSED") throw refuse("Order is fully captured.");
      const current = Date.parse(order.expires_at);
      const latest = Date.parse(order.created_at) + state.settings.authorization_max_days * DAY_MS;
      if (current >= latest) {
        throw refuse(`Order expires ${state.settings.authorization_max_days} days after its creation already.`);
      }
      const extended = Math.min(state.now() + state.settings.authorization_ttl_days * DAY_MS, latest);
      order.expires_at = new Date(Math.max(current, extended)).toISOString();
      return noContent();
    },
  },
  {
    // `updateAuthorization`: body `Update authorization`; 204; 403 NOT_ALLOWED "Decision is based on
    // order state and outcome of risk assessment". Lines follow Klarna's line arithmetic as orders do
    // and add up to `order_amount`; below the captured amount Klarna answers (docs, error page)
    // "Resulting authorization amount 7000 cannot be less than the captured amount 8000 for order.
    // Order authorization cannot be updated". An increase runs a new risk check: a setting decides.
    method: "PATCH",
    path: "/ordermanagement/v1/orders/:order_id/authorization",
    handler: ({ state, params, body }) => {
      const order = findOrder(state, params.order_id);
      const update = parseBody(updateAuthorization, body);
      if (update.order_lines && update.order_lines.length > 0) {
        checkLineArithmetic(update.order_lines);
        checkOrderAmount(update.order_amount, update.order_lines);
      }
      const refuse = (why: string) => new KlarnaRefusal(403, "NOT_ALLOWED", [`${why} Order authorization cannot be updated`]);
      refuseClosedOrder(state, order, refuse);
      if (update.order_amount < order.captured_amount) {
        throw refuse(
          `Resulting authorization amount ${update.order_amount} cannot be less than the captured amount ${order.captured_amount} for order.`,
        );
      }
      if (update.order_amount > order.order_amount && state.settings.authorization_increase === "refuse") {
        throw refuse("The increase was not approved by Klarna's risk assessment.");
      }
      order.order_amount = update.order_amount;
      if (update.order_lines) order.order_lines = update.order_lines;
      order.remaining_authorized_amount = order.order_amount - order.captured_amount;
      if (order.captured_amount > 0) order.status = order.remaining_authorized_amount === 0 ? "CAPTURED" : "PART_CAPTURED";
      return noContent();
    },
  },
  {
    // `updateConsumerDetails`: body `UpdateConsumer` (the shipping address only); 204; 403 NOT_ALLOWED
    // "Decision is based on order state and outcome of risk assessment. Billing address cannot be
    // updated."; an invalid address is Klarna's 422 INVALID_ADDRESS "The shipping and/or billing
    // address is invalid" (docs, "Manage orders with the API").
    method: "PATCH",
    path: "/ordermanagement/v1/orders/:order_id/customer-details",
    handler: ({ state, params, body }) => {
      const order = findOrder(state, params.order_id);
      if (body && typeof body === "object" && "billing_address" in body) {
        throw new KlarnaRefusal(403, "NOT_ALLOWED", ["Billing address cannot be updated."]);
      }
      const { shipping_address } = parseBody(updateConsumer, body);
      const address = shipping_address === undefined ? undefined : omAddress.safeParse(shipping_address);
      if (address && !address.success) {
        throw new KlarnaRefusal(422, "INVALID_ADDRESS", ["The shipping and/or billing address is invalid"]);
      }
      const refuse = (why: string) => new KlarnaRefusal(403, "NOT_ALLOWED", [`${why} Customer details cannot be updated.`]);
      refuseClosedOrder(state, order, refuse);
      if (state.settings.customer_details_update === "refuse") {
        throw refuse("The new address was not approved by Klarna's risk assessment.");
      }
      if (address?.success) order.shipping_address = address.data;
      return noContent();
    },
  },
  {
    // `appendOrderShippingInfo`: body `UpdateShippingInfo`, appended to the order's `shipping_info`; 204; 404.
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/shipping-info",
    handler: ({ state, params, body }) => {
      const order = findOrder(state, params.order_id);
      const { shipping_info } = parseBody(updateShippingInfo, body);
      order.shipping_info = [...(order.shipping_info ?? []), ...checkShippingInfo(shipping_info)];
      return noContent();
    },
  },
];

/** Changes to the authorisation need one that is still open: not cancelled, expired or fully captured. */
function refuseClosedOrder(state: EmulatorState, order: Order, refuse: (why: string) => KlarnaRefusal): void {
  if (order.status === "CANCELLED") throw refuse("Order is cancelled.");
  if (order.status === "EXPIRED" || state.isExpired(order)) throw refuse("Order is expired.");
  if (order.status === "CAPTURED" || order.status === "CLOSED") throw refuse("Order is fully captured.");
}
