import { formatMoney } from "../klarna/money";
import { planAmountRefund, planRefund, planReturnFeeRefund, RefundPlanInput, RefundPlanItem, withheldFeeLine } from "../klarna/refund-plan";
import type { RefundRequest } from "../klarna/types";
import { MANUAL_KINDS } from "../models/ledger-entry";
import type { LedgerIntent, LedgerRow, RefundLedger } from "./ledger";
import type { KlarnaPluginOptions } from "./options";
import { KlarnaPluginRefusal } from "./payment-error";
import type { EarlierContext } from "./refund-decision";
import { currentRequestScope, RequestContext, RequestScope } from "./request-context";
import { planItems, shippingCharge } from "./return-lines";
import { OrderRow, StoreQueries } from "./store-queries";

/**
 * Which refund is it? `refundPayment(paymentData, amount)` is told nothing about the return, claim or
 * manual refund it belongs to: the request context (api/middlewares.ts) says, and Medusa's rows fill
 * in the rest. Each kind knows its ledger identity, the Klarna reference it sends, how its body is
 * planned (src/klarna/refund-plan.ts), and how to tell from Medusa's rows whether Medusa recorded it.
 */

/** What planning a refund needs to know of the Klarna order: market and captures. */
export interface PlanContext {
  captureCount: number;
  purchaseCountry: string;
  allowReturnFee: boolean;
}

export interface Identity {
  intent: string;
  /** The `reference` sent to Klarna; how the refund is found on Klarna's order. */
  reference: string;
  /** The refund in an admin's words: "return ret_…". */
  label: string;
}

export interface ResolvedIntent extends Omit<LedgerIntent, "intent"> {
  amount: number;
  /**
   * Its identity, given the Klarna order's unsettled ledger entries and the highest number of its
   * manual refunds (a manual refund is recognised among them by its amount).
   */
  identify(rows: LedgerRow[], manualMax: number): Identity;
  plan(ctx: PlanContext, reference: string): RefundRequest;
  /** A refund Klarna already made, to be recorded in Medusa without sending anything (adoption). */
  adopts?: string;
}

export class RefundIntents {
  constructor(
    private readonly queries: StoreQueries,
    private readonly ledger: RefundLedger,
    private readonly options: KlarnaPluginOptions,
    private readonly taxInclusivePricing: () => boolean,
  ) {}

  async resolve(klarnaOrderId: string, cartId: string | undefined, amount: number, ctx?: RequestContext): Promise<ResolvedIntent> {
    const q = this.queries;
    switch (ctx?.kind) {
      case "return":
        return this.returnIntent(klarnaOrderId, ctx.return_id, amount, "request:receive-return", ctx.items);
      case "claim": {
        // A retry sends the claim request again with Medusa's Idempotency-Key: that claim; else the newest of this amount.
        const claim =
          (ctx.idempotency_key ? await q.claimByIdempotencyKey(ctx.order_id, ctx.idempotency_key) : undefined) ??
          (await q.claimForRefund(ctx.order_id, amount));
        if (claim) return this.claimIntent(klarnaOrderId, ctx.order_id, claim.id, amount);
        return this.manualIntent(klarnaOrderId, ctx.order_id, amount, "unattributed", "request:claim-without-match");
      }
      case "swap":
        return this.swapIntent(klarnaOrderId, ctx.order_id, ctx.swap_id, amount);
      case "order_refund":
        return this.manualIntent(klarnaOrderId, ctx.order_id, amount, "order_refund", "request:order-refund", ctx.note);
      case "payment_refund": {
        const orderId = await q.paymentOrderId(ctx.payment_id);
        if (!orderId) throw new KlarnaPluginRefusal("NO_KLARNA_ORDER", `Payment ${ctx.payment_id} belongs to no order.`);
        return this.manualIntent(klarnaOrderId, orderId, amount, "payment_refund", "request:payment-refund", ctx.note);
      }
      case "fee_waiver":
        return this.feeWaiverIntent(klarnaOrderId, ctx.return_id, amount);
      case "adoption":
        return this.adoptionIntent(klarnaOrderId, ctx.order_id, ctx.klarna_refund_id, amount);
      default: {
        // No request context (a refund started by code): a requested return of this amount, else amount only.
        const order = cartId ? await q.orderByCart(cartId) : undefined;
        if (!order) throw new KlarnaPluginRefusal("NO_KLARNA_ORDER", `No Medusa order was found for Klarna order ${klarnaOrderId}.`);
        const candidates = (await q.requestedReturns(order.id)).filter((r) => Number(r.refund_amount) === amount);
        if (candidates.length === 1) {
          return this.returnIntent(klarnaOrderId, candidates[0].id, amount, "fallback:requested-return-with-this-amount");
        }
        return this.manualIntent(klarnaOrderId, order.id, amount, "unattributed", "fallback:amount-only");
      }
    }
  }

  /**
   * What Medusa shows of the thing an earlier ledger entry refunded: whether Medusa recorded the
   * refund, and whether retrying that same thing can still record it.
   */
  async earlierContext(row: LedgerRow): Promise<EarlierContext> {
    const q = this.queries;
    const resource = row.resource_id ?? "";
    // Medusa committed this entry's refund exactly when its payment data carries the entry's intent.
    const recordedInMedusa = (await q.medusaRecordedRefunds(row.klarna_order_id, { orderId: row.order_id })).some((r) => r.intent === row.intent);
    switch (row.kind) {
      case "return": {
        const status = await q.returnStatus(resource);
        return { recordedInMedusa, retryable: status === "requested" || status === "requires_action" };
      }
      case "claim": {
        const claim = await q.claimState(resource);
        return {
          recordedInMedusa,
          retryable: Boolean(claim && !claim.canceled_at && claim.payment_status !== "refunded"),
          resumeKey: claim?.idempotency_key,
        };
      }
      case "swap": {
        const swap = await q.swapState(resource);
        return { recordedInMedusa, retryable: Boolean(swap && !swap.canceled_at && swap.payment_status !== "difference_refunded") };
      }
      default:
        // A fee give-back, an adoption, a manual refund: asked for again by the admin (a manual
        // refund is recognised by its amount: identify() below).
        return { recordedInMedusa, retryable: true };
    }
  }

  /**
   * A return's rows (committed when the return was requested), read as soon as the receive request
   * arrives: Medusa spends tens of milliseconds before it calls refundPayment, which then only awaits
   * them (api/middlewares.ts).
   */
  prefetchReturn(scope: RequestScope, returnId: string, received?: Array<{ item_id: string; quantity: number }>): void {
    const rows = this.readReturn(returnId, received);
    rows.catch(() => undefined); // read again by the refund if it failed
    scope.prefetched.set(returnKey(returnId, received), rows);
  }

  private returnRows(returnId: string, received?: Array<{ item_id: string; quantity: number }>) {
    const pre = currentRequestScope()?.prefetched.get(returnKey(returnId, received)) as ReturnType<RefundIntents["readReturn"]> | undefined;
    return pre ? pre.catch(() => this.readReturn(returnId, received)) : this.readReturn(returnId, received);
  }

  private readReturn(returnId: string, received?: Array<{ item_id: string; quantity: number }>) {
    const ids = received && received.length ? received.map((i) => i.item_id) : undefined;
    return Promise.all([this.queries.returnView(returnId), this.queries.returnLines(returnId, ids)]);
  }

  // ---- the kinds ------------------------------------------------------------------------------

  private itemsPlan(
    order: OrderRow,
    amount: number,
    items: RefundPlanItem[],
    extra: { description: string; returnShipping?: RefundPlanInput["returnShipping"]; chargesNoFee?: boolean },
  ): ResolvedIntent["plan"] {
    return (ctx, reference) =>
      planRefund({
        refundAmount: amount,
        currency: order.currency_code,
        purchaseCountry: ctx.purchaseCountry,
        captureCount: ctx.captureCount,
        items,
        returnShipping: extra.returnShipping,
        reference,
        description: extra.description,
        options: {
          returnFeeMarkets: this.options.return_fee_markets,
          returnFeeFallback: extra.chargesNoFee ? "discount_line" : this.options.return_fee_fallback,
          allowReturnFee: ctx.allowReturnFee && !extra.chargesNoFee,
        },
      });
  }

  private fixed(identity: Identity): ResolvedIntent["identify"] {
    return () => identity;
  }

  private async returnIntent(
    klarnaOrderId: string,
    returnId: string,
    amount: number,
    source: string,
    received?: Array<{ item_id: string; quantity: number }>,
  ): Promise<ResolvedIntent> {
    const quantities = received && received.length ? new Map(received.map((i) => [i.item_id, i.quantity])) : undefined;
    const [view, lines] = await this.returnRows(returnId, received);
    if (!view) throw new KlarnaPluginRefusal("UNKNOWN_RETURN", `Return ${returnId} does not exist.`);
    const order = view.order;
    if (!order) throw new KlarnaPluginRefusal("UNKNOWN_RETURN", "The return belongs to no order.");
    const inclusive = this.taxInclusivePricing();
    return {
      klarna_order_id: klarnaOrderId,
      kind: "return",
      resource_id: returnId,
      order_id: order.id,
      source,
      currency_code: order.currency_code,
      amount,
      identify: this.fixed({ intent: `return:${returnId}`, reference: returnId, label: `return ${returnId}` }),
      plan: this.itemsPlan(order, amount, planItems(order, lines, inclusive, quantities), {
        returnShipping: shippingCharge(view.shipping, inclusive),
        description: `Refund for your return from order #${order.display_id ?? order.id}`,
      }),
    };
  }

  private async claimIntent(klarnaOrderId: string, orderId: string, claimId: string, amount: number): Promise<ResolvedIntent> {
    const q = this.queries;
    const order = await q.order(orderId);
    if (!order) throw new KlarnaPluginRefusal("UNKNOWN_RETURN", `Order ${orderId} does not exist.`);
    const items = planItems(order, await q.claimLines(claimId), this.taxInclusivePricing());
    return {
      klarna_order_id: klarnaOrderId,
      kind: "claim",
      resource_id: claimId,
      order_id: orderId,
      source: "request:claim",
      currency_code: order.currency_code,
      amount,
      identify: this.fixed({ intent: `claim:${claimId}`, reference: claimId, label: `claim ${claimId}` }),
      // A claim charges no return fee: anything withheld is a discount line.
      plan: this.itemsPlan(order, amount, items, {
        description: `Refund for your claim on order #${order.display_id ?? order.id}`,
        chargesNoFee: true,
      }),
    };
  }

  private async swapIntent(klarnaOrderId: string, orderId: string, swapId: string, amount: number): Promise<ResolvedIntent> {
    const order = await this.queries.order(orderId);
    return {
      klarna_order_id: klarnaOrderId,
      kind: "swap",
      resource_id: swapId,
      order_id: orderId,
      source: "request:swap-process-payment",
      currency_code: order?.currency_code ?? null,
      amount,
      identify: this.fixed({ intent: `swap:${swapId}`, reference: swapId, label: `exchange ${swapId}` }),
      plan: (_ctx, reference) =>
        planAmountRefund({
          amount,
          reference,
          description: `Refund of the price difference of your exchange for order #${order?.display_id ?? orderId}`,
        }),
    };
  }

  private async manualIntent(
    klarnaOrderId: string,
    orderId: string,
    amount: number,
    kind: "order_refund" | "payment_refund" | "unattributed",
    source: string,
    note?: string,
  ): Promise<ResolvedIntent> {
    const order = await this.queries.order(orderId);
    const display = order?.display_id ?? orderId;
    return {
      klarna_order_id: klarnaOrderId,
      kind,
      resource_id: orderId,
      order_id: orderId,
      source,
      currency_code: order?.currency_code ?? null,
      amount,
      // A retry is the manual refund of this amount that Medusa has not recorded yet (whatever else
      // happened on the order in between); otherwise it is the order's next manual refund.
      identify: (rows, manualMax) => {
        const retry = rows.find(
          (r) =>
            MANUAL_KINDS.includes(r.kind) &&
            r.amount === amount &&
            r.status !== "failed" &&
            r.medusa_state !== "recorded" &&
            r.medusa_state !== "adopted",
        );
        const n = retry ? Number(retry.intent.split(":").pop()) : manualMax + 1;
        return {
          intent: `refund:${orderId}:${n}`,
          reference: `${orderId}/refund-${n}`,
          label: `the manual refund of ${formatMoney(amount, order?.currency_code)} on order #${display}`,
        };
      },
      plan: (_ctx, reference) => planAmountRefund({ amount, reference, description: (note || `Refund for order #${display}`).slice(0, 255) }),
    };
  }

  private async feeWaiverIntent(klarnaOrderId: string, returnId: string, amount: number): Promise<ResolvedIntent> {
    const fee = await this.chargedReturnFee(klarnaOrderId, returnId);
    if (!fee) throw new KlarnaPluginRefusal("NOTHING_TO_WAIVE", `No Klarna return fee was charged for return ${returnId}.`);
    if (fee.amount !== amount) {
      throw new KlarnaPluginRefusal(
        "AMOUNT_MISMATCH",
        `The return fee charged for return ${returnId} was ${formatMoney(fee.amount, fee.currency)}, not ${formatMoney(amount, fee.currency)}.`,
      );
    }
    return {
      klarna_order_id: klarnaOrderId,
      kind: "fee_waiver",
      resource_id: returnId,
      order_id: fee.orderId,
      source: "request:waive-return-fee",
      currency_code: fee.currency,
      amount,
      identify: this.fixed({
        intent: `fee_waiver:${returnId}`,
        reference: `${returnId}/return-fee-refund`,
        label: `the return fee of return ${returnId}`,
      }),
      plan: (ctx, reference) => planReturnFeeRefund({ amount, fee, reference, allowReturnFeeLine: ctx.allowReturnFee }),
    };
  }

  private async adoptionIntent(klarnaOrderId: string, orderId: string, klarnaRefundId: string, amount: number): Promise<ResolvedIntent> {
    const order = await this.queries.order(orderId);
    return {
      klarna_order_id: klarnaOrderId,
      kind: "adoption",
      resource_id: orderId,
      order_id: orderId,
      source: "request:adopt-refund",
      currency_code: order?.currency_code ?? null,
      amount,
      adopts: klarnaRefundId,
      identify: this.fixed({ intent: `adopt:${klarnaRefundId}`, reference: klarnaRefundId, label: `Klarna refund ${klarnaRefundId}` }),
      plan: () => {
        throw new KlarnaPluginRefusal("NOTHING_TO_SEND", "An adopted refund is never sent.");
      },
    };
  }

  /** The return fee Klarna charged on a return's refund, from the ledger; undefined when none. */
  async chargedReturnFee(
    klarnaOrderId: string,
    returnId: string,
    ledgerRow?: LedgerRow | null,
  ): Promise<{ amount: number; name: string; taxRate: number; orderId: string | null; currency: string | null } | undefined> {
    const row = ledgerRow ?? (await this.ledger.find(klarnaOrderId, `return:${returnId}`));
    if (!row || row.status !== "succeeded") return undefined;
    const line = withheldFeeLine(row.request as RefundRequest | null);
    return line?.type === "return_fee"
      ? { amount: -line.total_amount, name: line.name, taxRate: line.tax_rate ?? 0, orderId: row.order_id, currency: row.currency_code }
      : undefined;
  }
}

function returnKey(returnId: string, received?: Array<{ item_id: string; quantity: number }>): string {
  return `return:${returnId}:${(received ?? []).map((i) => i.item_id).join(",")}`;
}
