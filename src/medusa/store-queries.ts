import type { RefundPlanItem } from "../klarna/refund-plan";
import { klarnaTaxRate, klarnaUnitAndDiscount, medusaLineRefund, medusaShippingTotal, medusaUnitGross } from "./medusa-totals";
import { PluginDatabase } from "./plugin-db";

/**
 * Reads what a refund is for (a return, a claim, the order) from the store's database, on the plugin's
 * own connection: only committed rows, i.e. the return as it was requested, never the receive in
 * progress (its received quantities come from the request context).
 */

export interface OrderRow {
  id: string;
  display_id: number | null;
  currency_code: string;
  tax_rate: number | null;
  /** The order's discount Medusa allocates to lines: its first that is not free shipping (totals.getAllocationMap). */
  discount_id: string | null;
}

export interface ReturnRow {
  id: string;
  status: string;
  order_id: string | null;
  swap_id: string | null;
  claim_order_id: string | null;
  refund_amount: number | null;
}

export interface LineRow {
  item_id: string;
  title: string;
  /** Medusa puts the variant's title here ("S", "Blue / M"). */
  description: string | null;
  sku: string | null;
  unit_price: number;
  ordered_quantity: number;
  includes_tax: boolean;
  allow_discounts: boolean;
  /** Quantity on the return / claim. */
  quantity: number;
  /** Tax line rates, percent. */
  tax_rates: number[];
  adjustments: Array<{ discount_id: string | null; amount: number }>;
}

export interface ShippingRow {
  name: string;
  price: number;
  includes_tax: boolean;
  tax_rates: number[];
}

/** What the shopper saw: "Organic Cotton T-Shirt, S". */
export function lineName(title: string, variant?: string | null): string {
  return variant && variant !== title ? `${title}, ${variant}` : title;
}

// `includes_tax` columns exist only where the tax_inclusive_pricing feature's migration ran: read them
// through to_jsonb, which yields null instead of failing when the column is absent.
export class StoreReader {
  constructor(
    private readonly db: PluginDatabase,
    private readonly taxInclusivePricing: () => boolean,
  ) {}

  private static ORDER_COLUMNS = `o.id, o.display_id, o.currency_code, o.tax_rate,
    (SELECT d.id FROM order_discounts od
       JOIN discount d ON d.id = od.discount_id
       JOIN discount_rule dr ON dr.id = d.rule_id
      WHERE od.order_id = o.id AND dr.type <> 'free_shipping' LIMIT 1) AS discount_id`;

  private static LINE_COLUMNS = `li.id AS item_id, li.title, li.description, pv.sku, li.unit_price,
    li.quantity AS ordered_quantity, COALESCE((to_jsonb(li)->>'includes_tax')::boolean, false) AS includes_tax,
    li.allow_discounts,
    (SELECT COALESCE(json_agg(t.rate), '[]') FROM line_item_tax_line t WHERE t.item_id = li.id) AS tax_rates,
    (SELECT COALESCE(json_agg(json_build_object('discount_id', a.discount_id, 'amount', a.amount)), '[]')
       FROM line_item_adjustment a WHERE a.item_id = li.id) AS adjustments`;

  async orderByCart(cartId: string): Promise<OrderRow | undefined> {
    const rows = await this.db.query<OrderRow>(`SELECT ${StoreReader.ORDER_COLUMNS} FROM "order" o WHERE o.cart_id = $1`, [cartId]);
    return rows[0];
  }

  async order(orderId: string): Promise<OrderRow | undefined> {
    const rows = await this.db.query<OrderRow>(`SELECT ${StoreReader.ORDER_COLUMNS} FROM "order" o WHERE o.id = $1`, [orderId]);
    return rows[0];
  }

  async returnRow(returnId: string): Promise<ReturnRow | undefined> {
    const rows = await this.db.query<ReturnRow>(
      `SELECT id, status, order_id, swap_id, claim_order_id, refund_amount FROM "return" WHERE id = $1`,
      [returnId],
    );
    return rows[0];
  }

  /** A return with its order (a swap's return: the swap's order) and its return shipping, in one query. */
  async returnView(returnId: string): Promise<{ ret: ReturnRow; order?: OrderRow; shipping?: ShippingRow } | undefined> {
    const rows = await this.db.query<Record<string, any>>(
      `SELECT r.id, r.status, r.order_id, r.swap_id, r.claim_order_id, r.refund_amount,
              to_jsonb(ord) AS "order",
              CASE WHEN sm.id IS NULL THEN NULL ELSE json_build_object(
                'name', COALESCE(so.name, 'Return shipping'),
                'price', sm.price,
                'includes_tax', COALESCE((to_jsonb(sm)->>'includes_tax')::boolean, false),
                'tax_rates', (SELECT COALESCE(json_agg(tl.rate), '[]') FROM shipping_method_tax_line tl WHERE tl.shipping_method_id = sm.id)
              ) END AS shipping
         FROM "return" r
         LEFT JOIN swap s ON s.id = r.swap_id
         LEFT JOIN LATERAL (SELECT ${StoreReader.ORDER_COLUMNS} FROM "order" o WHERE o.id = COALESCE(r.order_id, s.order_id)) ord ON true
         LEFT JOIN shipping_method sm ON sm.return_id = r.id
         LEFT JOIN shipping_option so ON so.id = sm.shipping_option_id
        WHERE r.id = $1
        LIMIT 1`,
      [returnId],
    );
    const row = rows[0];
    if (!row) return undefined;
    const { order, shipping, ...ret } = row;
    return { ret: ret as ReturnRow, order: order ?? undefined, shipping: shipping ?? undefined };
  }

  async requestedReturns(orderId: string): Promise<ReturnRow[]> {
    return this.db.query<ReturnRow>(
      `SELECT id, status, order_id, swap_id, claim_order_id, refund_amount FROM "return"
        WHERE order_id = $1 AND status = 'requested' ORDER BY created_at DESC`,
      [orderId],
    );
  }

  /** The return's lines, or the order lines with the given ids (items received but not requested). */
  async returnLines(returnId: string, itemIds?: string[]): Promise<LineRow[]> {
    if (itemIds && itemIds.length) {
      return this.db.query<LineRow>(
        `SELECT ${StoreReader.LINE_COLUMNS}, 0 AS quantity
           FROM line_item li LEFT JOIN product_variant pv ON pv.id = li.variant_id
          WHERE li.id = ANY($1) ORDER BY li.created_at, li.id`,
        [itemIds],
      );
    }
    return this.db.query<LineRow>(
      `SELECT ${StoreReader.LINE_COLUMNS}, ri.quantity
         FROM return_item ri
         JOIN line_item li ON li.id = ri.item_id
         LEFT JOIN product_variant pv ON pv.id = li.variant_id
        WHERE ri.return_id = $1
        ORDER BY li.created_at, li.id`,
      [returnId],
    );
  }

  async claimForRefund(orderId: string, amount: number): Promise<{ id: string; refund_amount: number } | undefined> {
    const rows = await this.db.query<{ id: string; refund_amount: number }>(
      `SELECT id, refund_amount FROM claim_order
        WHERE order_id = $1 AND type = 'refund' AND payment_status = 'not_refunded' AND canceled_at IS NULL
          AND refund_amount = $2
        ORDER BY created_at DESC LIMIT 1`,
      [orderId, amount],
    );
    return rows[0];
  }

  async claimLines(claimId: string): Promise<LineRow[]> {
    return this.db.query<LineRow>(
      `SELECT ${StoreReader.LINE_COLUMNS}, ci.quantity
         FROM claim_item ci
         JOIN line_item li ON li.id = ci.item_id
         LEFT JOIN product_variant pv ON pv.id = li.variant_id
        WHERE ci.claim_order_id = $1 AND ci.deleted_at IS NULL
        ORDER BY li.created_at, li.id`,
      [claimId],
    );
  }

  /** Committed state, to tell a duplicate from a retry after a rollback. */
  async returnStatus(returnId: string): Promise<string | undefined> {
    return (await this.returnRow(returnId))?.status;
  }
  async claimPaymentStatus(claimId: string): Promise<string | undefined> {
    const rows = await this.db.query<{ payment_status: string }>(`SELECT payment_status FROM claim_order WHERE id = $1`, [claimId]);
    return rows[0]?.payment_status;
  }
  async swapPaymentStatus(swapId: string): Promise<string | undefined> {
    const rows = await this.db.query<{ payment_status: string }>(`SELECT payment_status FROM swap WHERE id = $1`, [swapId]);
    return rows[0]?.payment_status;
  }
  async refundCount(orderId: string): Promise<number> {
    const rows = await this.db.query<{ n: string }>(`SELECT count(*) AS n FROM refund WHERE order_id = $1`, [orderId]);
    return Number(rows[0]?.n ?? 0);
  }
  async paymentOrderId(paymentId: string): Promise<string | undefined> {
    const rows = await this.db.query<{ order_id: string | null }>(`SELECT order_id FROM payment WHERE id = $1`, [paymentId]);
    return rows[0]?.order_id ?? undefined;
  }

  /**
   * Returned lines as the refund planner wants them: each line's value is what Medusa 1.20 refunds
   * for it (getLineItemRefund: unit price, tax lines, the order's discount allocation), written as a
   * tax-inclusive unit price and a discount.
   */
  planItems(order: OrderRow, lines: LineRow[], quantities?: Map<string, number>): RefundPlanItem[] {
    const inclusive = this.taxInclusivePricing();
    const legacyTaxRate = order.tax_rate === null || order.tax_rate === undefined ? null : Number(order.tax_rate);
    return lines.map((l) => {
      const rates = (l.tax_rates ?? []).map(Number);
      const adjustmentsTotal =
        (l.allow_discounts && order.discount_id
          ? l.adjustments.filter((a) => a.discount_id === order.discount_id).reduce((s, a) => s + Number(a.amount), 0)
          : 0) + l.adjustments.filter((a) => a.discount_id === null).reduce((s, a) => s + Number(a.amount), 0);
      const quantity = quantities?.get(l.item_id) ?? Number(l.quantity);
      const spec = {
        unitPrice: Number(l.unit_price),
        orderedQuantity: Number(l.ordered_quantity),
        quantity,
        adjustmentsTotal,
        taxRates: rates,
        includesTax: inclusive && Boolean(l.includes_tax),
        legacyTaxRate,
      };
      const value = medusaLineRefund(spec);
      const { unitPrice, discount } = klarnaUnitAndDiscount(value, quantity, medusaUnitGross(spec));
      return {
        name: lineName(l.title, l.description),
        reference: l.sku ?? undefined,
        quantity,
        unitPrice,
        discount,
        taxRate: klarnaTaxRate(legacyTaxRate !== null ? [legacyTaxRate] : rates),
      };
    });
  }

  /** The return shipping charge as the planner wants it (price plus its tax lines, as Medusa withholds it). */
  shippingCharge(shipping: ShippingRow | undefined): { name: string; amount: number; taxRate: number } | undefined {
    if (!shipping) return undefined;
    const rates = (shipping.tax_rates ?? []).map(Number);
    const amount = medusaShippingTotal(Number(shipping.price), rates, this.taxInclusivePricing() && shipping.includes_tax);
    return { name: shipping.name, amount, taxRate: klarnaTaxRate(rates) };
  }
}
