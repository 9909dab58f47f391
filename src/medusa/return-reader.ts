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

  async orderByCart(cartId: string): Promise<OrderRow | undefined> {
    const rows = await this.db.query<OrderRow>(
      `SELECT id, display_id, currency_code, tax_rate FROM "order" WHERE cart_id = $1`,
      [cartId],
    );
    return rows[0];
  }

  async order(orderId: string): Promise<OrderRow | undefined> {
    const rows = await this.db.query<OrderRow>(`SELECT id, display_id, currency_code, tax_rate FROM "order" WHERE id = $1`, [orderId]);
    return rows[0];
  }

  async returnRow(returnId: string): Promise<ReturnRow | undefined> {
    const rows = await this.db.query<ReturnRow>(
      `SELECT id, status, order_id, swap_id, claim_order_id, refund_amount FROM "return" WHERE id = $1`,
      [returnId],
    );
    return rows[0];
  }

  async requestedReturns(orderId: string): Promise<ReturnRow[]> {
    return this.db.query<ReturnRow>(
      `SELECT id, status, order_id, swap_id, claim_order_id, refund_amount FROM "return"
        WHERE order_id = $1 AND status = 'requested' ORDER BY created_at DESC`,
      [orderId],
    );
  }

  async returnLines(returnId: string): Promise<LineRow[]> {
    return this.db.query<LineRow>(
      `SELECT ri.item_id, li.title, li.description, pv.sku, li.unit_price, li.quantity AS ordered_quantity,
              COALESCE((to_jsonb(li)->>'includes_tax')::boolean, false) AS includes_tax, li.allow_discounts, ri.quantity
         FROM return_item ri
         JOIN line_item li ON li.id = ri.item_id
         LEFT JOIN product_variant pv ON pv.id = li.variant_id
        WHERE ri.return_id = $1
        ORDER BY li.created_at, li.id`,
      [returnId],
    );
  }

  async returnShipping(returnId: string): Promise<ShippingRow | undefined> {
    const rows = await this.db.query<{ id: string; name: string | null; price: number; includes_tax: boolean }>(
      `SELECT sm.id, so.name, sm.price, COALESCE((to_jsonb(sm)->>'includes_tax')::boolean, false) AS includes_tax
         FROM shipping_method sm LEFT JOIN shipping_option so ON so.id = sm.shipping_option_id
        WHERE sm.return_id = $1`,
      [returnId],
    );
    if (!rows[0]) return undefined;
    const rates = await this.db.query<{ rate: number }>(`SELECT rate FROM shipping_method_tax_line WHERE shipping_method_id = $1`, [rows[0].id]);
    return {
      name: rows[0].name || "Return shipping",
      price: Number(rows[0].price),
      includes_tax: Boolean(rows[0].includes_tax),
      tax_rates: rates.map((r) => Number(r.rate)),
    };
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
      `SELECT ci.item_id, li.title, li.description, pv.sku, li.unit_price, li.quantity AS ordered_quantity,
              COALESCE((to_jsonb(li)->>'includes_tax')::boolean, false) AS includes_tax, li.allow_discounts, ci.quantity
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
  async planItems(order: OrderRow, lines: LineRow[], quantities?: Map<string, number>): Promise<RefundPlanItem[]> {
    if (!lines.length) return [];
    const ids = lines.map((l) => l.item_id);
    const [taxLines, adjustments, discountRows] = await Promise.all([
      this.db.query<{ item_id: string; rate: number }>(`SELECT item_id, rate FROM line_item_tax_line WHERE item_id = ANY($1)`, [ids]),
      this.db.query<{ item_id: string; discount_id: string | null; amount: number }>(
        `SELECT item_id, discount_id, amount FROM line_item_adjustment WHERE item_id = ANY($1)`,
        [ids],
      ),
      // Medusa allocates the order's first discount that is not free shipping (totals.getAllocationMap).
      this.db.query<{ id: string }>(
        `SELECT d.id FROM order_discounts od
           JOIN discount d ON d.id = od.discount_id
           JOIN discount_rule r ON r.id = d.rule_id
          WHERE od.order_id = $1 AND r.type <> 'free_shipping'`,
        [order.id],
      ),
    ]);
    const discountId = discountRows[0]?.id;
    const inclusive = this.taxInclusivePricing();
    return lines.map((l) => {
      const rates = taxLines.filter((t) => t.item_id === l.item_id).map((t) => Number(t.rate));
      const adj = adjustments.filter((a) => a.item_id === l.item_id);
      const adjustmentsTotal =
        (l.allow_discounts && discountId ? adj.filter((a) => a.discount_id === discountId).reduce((s, a) => s + Number(a.amount), 0) : 0) +
        adj.filter((a) => a.discount_id === null).reduce((s, a) => s + Number(a.amount), 0);
      const quantity = quantities?.get(l.item_id) ?? Number(l.quantity);
      const legacyTaxRate = order.tax_rate === null || order.tax_rate === undefined ? null : Number(order.tax_rate);
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
    const amount = medusaShippingTotal(shipping.price, shipping.tax_rates, this.taxInclusivePricing() && shipping.includes_tax);
    return { name: shipping.name, amount, taxRate: klarnaTaxRate(shipping.tax_rates) };
  }
}
