import { KlarnaRefusal, merchantReferences, parseBody } from "../rules";
import { findOrder, noContent, ok, type Route } from "./route";

/** Order Management: the order itself and the calls that move its state (order-management.yml). */
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
    method: "PATCH",
    path: "/ordermanagement/v1/orders/:order_id/merchant-references",
    handler: ({ state, params, body }) => {
      const order = findOrder(state, params.order_id);
      const refs = parseBody(merchantReferences, body);
      if (refs.merchant_reference1 !== undefined) order.merchant_reference1 = refs.merchant_reference1;
      if (refs.merchant_reference2 !== undefined) order.merchant_reference2 = refs.merchant_reference2;
      return noContent();
    },
  },
  {
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/cancel",
    handler: ({ state, params }) => {
      const order = findOrder(state, params.order_id);
      if (order.captures.length > 0) {
        throw new KlarnaRefusal(403, "CANCEL_NOT_ALLOWED", ["Order has been captured. Cancel not possible."]);
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
      order.order_amount = order.captured_amount;
      order.remaining_authorized_amount = 0;
      order.status = "CAPTURED";
      return noContent();
    },
  },
];
