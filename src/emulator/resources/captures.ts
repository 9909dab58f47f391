import { captureObject, checkLineArithmetic, checkShippingInfo, extendDueDate, KlarnaRefusal, parseBody, updateShippingInfo } from "../rules";
import { findCapture, findOrder, noContent, ok, type Route } from "./route";

/** Order Management captures and what hangs off a capture (order-management.yml, tag "Captures"). */
export const captureRoutes: Route[] = [
  {
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/captures",
    handler: ({ state, params, body, origin }) => {
      const order = findOrder(state, params.order_id);
      const capture = parseBody(captureObject, body);
      const shipping_info = checkShippingInfo(capture.shipping_info ?? []);
      if (capture.order_lines && state.settings.om_line_arithmetic === "strict") checkLineArithmetic(capture.order_lines);
      if (order.status === "CANCELLED" || order.status === "CLOSED") {
        throw new KlarnaRefusal(403, "CAPTURE_NOT_ALLOWED", [`Order is ${order.status}. Capture not possible.`]);
      }
      // MerchantOrderDto.expires_at: "The order can only be captured until this time." Message: Klarna's
      // as merchants quote it ("CAPTURE_NOT_ALLOWED: Order 6c82… is expired. Capture not possible.").
      if (state.isExpired(order)) {
        throw new KlarnaRefusal(403, "CAPTURE_NOT_ALLOWED", [`Order ${order.order_id} is expired. Capture not possible.`]);
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
      const created = state.addCapture(order, { ...capture, shipping_info });
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
        throw new KlarnaRefusal(404, "NO_SUCH_CAPTURE", [`Capture ${params.capture_id} cannot be found for order ${order.order_id}`]);
      }
      return ok(capture);
    },
  },
  {
    // `appendShippingInfo`: body `UpdateShippingInfo`; 204 "Shipping information was appended"; 403
    // "Order has no captures."; 404 "Order or capture not found." (message from Klarna's docs).
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/captures/:capture_id/shipping-info",
    handler: ({ state, params, body }) => {
      const order = findOrder(state, params.order_id);
      const { shipping_info } = parseBody(updateShippingInfo, body);
      const entries = checkShippingInfo(shipping_info);
      const capture = findCapture(
        order,
        params.capture_id,
        `Capture could not be found. Shipping info cannot be added to capture ${params.capture_id}`,
      );
      capture.shipping_info = [...(capture.shipping_info ?? []), ...entries];
      return noContent();
    },
  },
  {
    // `triggerSendOut`: resend the customer communication of a capture. 204; 403 "Order has no
    // captures."; 404 NO_SUCH_CAPTURE "Order or capture not found.". No body.
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/captures/:capture_id/trigger-send-out",
    handler: ({ state, params }) => {
      const order = findOrder(state, params.order_id);
      findCapture(order, params.capture_id);
      return noContent();
    },
  },
  {
    // `getOptionsForExtendDueDate`: the merchant's fees for moving the shopper's due date
    // (`ExtendDueDateOptions`; the options are a setting, agreed per merchant account).
    method: "GET",
    path: "/ordermanagement/v1/orders/:order_id/captures/:capture_id/extend-due-date-options",
    handler: ({ state, params }) => {
      const order = findOrder(state, params.order_id);
      findCapture(order, params.capture_id);
      return ok({ currency: order.purchase_currency, options: state.settings.due_date_extension_options });
    },
  },
  {
    // `extendDueDate`: body `ExtendDueDateRequest` { number_of_days }; 204; 403 "Extension of due date
    // is not possible." for a number of days that is not one of the options.
    method: "PATCH",
    path: "/ordermanagement/v1/orders/:order_id/captures/:capture_id/extend-due-date",
    handler: ({ state, params, body }) => {
      const order = findOrder(state, params.order_id);
      const { number_of_days } = parseBody(extendDueDate, body);
      findCapture(order, params.capture_id);
      if (!state.settings.due_date_extension_options.some((o) => o.number_of_days === number_of_days)) {
        throw new KlarnaRefusal(403, "NOT_ALLOWED", [`Extension of due date is not possible: ${number_of_days} days is not an available option.`]);
      }
      return noContent();
    },
  },
];
