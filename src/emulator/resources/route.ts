import type { Order } from "../../klarna/types";
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

export function findOrder(state: EmulatorState, orderId: string): Order {
  const order = state.orders.get(orderId);
  if (!order) throw new KlarnaRefusal(404, "NO_SUCH_ORDER", [`Order ${orderId} cannot be found`]);
  return order;
}

export const noContent = (): Answer => ({ status: 204 });
export const ok = (body: unknown): Answer => ({ status: 200, body });
