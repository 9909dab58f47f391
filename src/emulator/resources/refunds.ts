import { sumTotals } from "../../klarna/order-lines";
import type { Order, RefundRequest } from "../../klarna/types";
import { badValue, checkLineArithmetic, KlarnaRefusal, parseBody, refundObject } from "../rules";
import type { EmulatorSettings } from "../settings";
import { findOrder, ok, type Route } from "./route";

/**
 * Order Management refunds, with Klarna's return-fee rules (docs "Refund with return fees"):
 * a `return_fee` line is allowed only when the order was captured in one single full capture, the
 * lines add up exactly to `refunded_amount`, and the purchase country is a return-fee market.
 */
export const refundRoutes: Route[] = [
  {
    method: "POST",
    path: "/ordermanagement/v1/orders/:order_id/refunds",
    handler: ({ state, params, body, origin }) => {
      const order = findOrder(state, params.order_id);
      const refund = parseBody(refundObject, body);
      const lines = refund.order_lines ?? [];
      if (state.settings.om_line_arithmetic === "strict") checkLineArithmetic(lines);
      lines.forEach((line, i) => {
        if (line.type === "return_fee" && line.total_amount === 0) {
          throw badValue(`order_lines[${i}].total_amount`, "(a return fee line must not be zero)");
        }
      });
      if (order.captures.length === 0) {
        throw new KlarnaRefusal(403, "REFUND_NOT_ALLOWED", ["Order has no captures. Refund not possible"]);
      }
      if (refund.refunded_amount > order.captured_amount - order.refunded_amount) {
        throw new KlarnaRefusal(403, "REFUND_NOT_ALLOWED", ["Over refund is not allowed. Refund not possible."]);
      }
      checkReturnFeeRules(order, refund, state.settings);
      const created = state.addRefund(order, refund);
      return {
        status: 201,
        headers: {
          "Refund-Id": created.refund_id,
          Location: `${origin}/ordermanagement/v1/orders/${order.order_id}/refunds/${created.refund_id}`,
        },
      };
    },
  },
  {
    method: "GET",
    path: "/ordermanagement/v1/orders/:order_id/refunds/:refund_id",
    handler: ({ state, params }) => {
      const order = findOrder(state, params.order_id);
      const refund = order.refunds.find((r) => r.refund_id === params.refund_id);
      if (!refund) {
        throw new KlarnaRefusal(404, "NOT_FOUND", [`Refund ${params.refund_id} cannot be found for order ${order.order_id}`]);
      }
      return ok(refund);
    },
  },
];

export function checkReturnFeeRules(order: Order, refund: RefundRequest, settings: EmulatorSettings): void {
  const lines = refund.order_lines ?? [];
  if (!lines.some((l) => l.type === "return_fee")) return;
  const refuse = (message: string) => new KlarnaRefusal(settings.return_fee_refusal.status, settings.return_fee_refusal.error_code, [message]);
  const single = order.captures.length === 1 && order.captures[0].captured_amount === order.original_order_amount;
  if (!single) {
    throw refuse("Return fee is not allowed: the order must be captured in one single full capture. Refund not possible.");
  }
  if (!settings.return_fee_markets.includes(order.purchase_country.toUpperCase())) {
    throw refuse(`Return fee is not allowed in market ${order.purchase_country}. Refund not possible.`);
  }
  const sum = sumTotals(lines);
  if (sum !== refund.refunded_amount) {
    throw refuse(
      `Return fee is not allowed: the order lines add up to ${sum}, not to refunded_amount ${refund.refunded_amount}. Refund not possible.`,
    );
  }
}
