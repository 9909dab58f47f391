import type { Capture, Order } from "../../klarna/types";
import { KlarnaRefusal } from "../rules";
import type { Answer, EmulatorState } from "../state";

export interface RouteContext {
  state: EmulatorState;
  params: Record<string, string>;
  body: unknown;
  /** Scheme and host the request came to, for `Location` headers. */
  origin: string;
}

export interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  handler: (ctx: RouteContext) => Answer;
}

/** The order, with its expiry applied; 404 NO_SUCH_ORDER (Klarna's message) when there is none. */
export function findOrder(state: EmulatorState, orderId: string): Order {
  const order = state.findOrder(orderId);
  if (!order) throw new KlarnaRefusal(404, "NO_SUCH_ORDER", [`Order ${orderId} cannot be found`]);
  return order;
}

/**
 * A capture of the order. The capture sub-resources' 403 is "Order has no captures." and their 404
 * "Order or capture not found." (order-management.yml, shipping-info and trigger-send-out); the
 * 404's code is the spec's `No such capture error message` example, NO_SUCH_CAPTURE.
 */
export function findCapture(order: Order, captureId: string, message = `Capture ${captureId} cannot be found for order ${order.order_id}`): Capture {
  if (order.captures.length === 0) throw new KlarnaRefusal(403, "NOT_ALLOWED", ["Order has no captures."]);
  const capture = order.captures.find((c) => c.capture_id === captureId);
  if (!capture) throw new KlarnaRefusal(404, "NO_SUCH_CAPTURE", [message]);
  return capture;
}

export const noContent = (): Answer => ({ status: 204 });
export const ok = (body: unknown): Answer => ({ status: 200, body });
