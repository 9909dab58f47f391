import { captureObject, checkLineArithmetic, KlarnaRefusal, parseBody } from "../rules";
import { findOrder, ok, type Route } from "./route";

/** Order Management captures. */
export const captureRoutes: Route[] = [
  {
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/captures",
    handler: ({ state, params, body, origin }) => {
      const order = findOrder(state, params.order_id);
      const capture = parseBody(captureObject, body);
      if (capture.order_lines && state.settings.om_line_arithmetic === "strict") checkLineArithmetic(capture.order_lines);
      if (order.status === "CANCELLED" || order.status === "EXPIRED" || order.status === "CLOSED") {
        throw new KlarnaRefusal(403, "CAPTURE_NOT_ALLOWED", [`Order is ${order.status}. Capture not possible.`]);
      }
      if (order.fraud_status !== "ACCEPTED") {
        throw new KlarnaRefusal(403, "CAPTURE_NOT_ALLOWED", [
          `Order has fraud status ${order.fraud_status}. Capture not possible until it is ACCEPTED.`,
        ]);
      }
      if (capture.captured_amount > order.remaining_authorized_amount) {
        throw new KlarnaRefusal(403, "CAPTURE_NOT_ALLOWED", [
          "Captured amount is higher than the remaining authorized amount. Capture not possible.",
        ]);
      }
      const created = state.addCapture(order, capture);
      return {
        status: 201,
        headers: {
          "Capture-Id": created.capture_id,
          Location: `${origin}/ordermanagement/v1/orders/${order.order_id}/captures/${created.capture_id}`,
        },
      };
    },
  },
  {
    method: "GET",
    path: "/ordermanagement/v1/orders/:order_id/captures",
    handler: ({ state, params }) => ok(findOrder(state, params.order_id).captures),
  },
  {
    method: "GET",
    path: "/ordermanagement/v1/orders/:order_id/captures/:capture_id",
    handler: ({ state, params }) => {
      const order = findOrder(state, params.order_id);
      const capture = order.captures.find((c) => c.capture_id === params.capture_id);
      if (!capture) {
        throw new KlarnaRefusal(404, "NOT_FOUND", [`Capture ${params.capture_id} cannot be found for order ${order.order_id}`]);
      }
      return ok(capture);
    },
  },
];
