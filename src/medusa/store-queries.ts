import { PROVIDER_ID } from "./identifiers";
import { PluginDatabase } from "./plugin-db";

/**
 * The refunds Medusa committed on a Klarna payment (alias `p`): the processor's answers that Medusa
 * saved in the transaction writing its refund rows (`payment.data.refunds`, services/klarna.ts).
 */
const committedRefundsOf = (p: string) => `(CASE WHEN jsonb_typeof(${p}.data->'refunds') = 'array' THEN ${p}.data->'refunds' ELSE '[]'::jsonb END)`;

/** SQL: whether Medusa committed the refund of ledger intent `intent` on Medusa order `orderId` (SQL expressions). */
export const medusaRecordedSql = (orderId: string, intent: string) =>
  `EXISTS (SELECT 1 FROM payment p WHERE p.order_id = ${orderId} AND p.provider_id = '${PROVIDER_ID}'
             AND ${committedRefundsOf("p")} @> jsonb_build_array(jsonb_build_object('intent', ${intent}::text)))`;

/**
 * SQL only: Medusa's orders, returns, claims, swaps, payments and refunds as plain rows, read on the
 * plugin's own connection pool. Only committed rows: the return as it was requested, never the
 * receive in progress (its received quantities come from the request context).
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

// `includes_tax` columns exist only where the tax_inclusive_pricing feature's migration ran: read them
// through to_jsonb, which yields null instead of failing when the column is absent.
export class StoreQueries {
  constructor(private readonly db: PluginDatabase) {}

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
    const rows = await this.db.query<OrderRow>(`SELECT ${StoreQueries.ORDER_COLUMNS} FROM "order" o WHERE o.cart_id = $1`, [cartId]);
    return rows[0];
  }

  async order(orderId: string): Promise<OrderRow | undefined> {
    const rows = await this.db.query<OrderRow>(`SELECT ${StoreQueries.ORDER_COLUMNS} FROM "order" o WHERE o.id = $1`, [orderId]);
    return rows[0];
  }

  async returnRow(returnId: string): Promise<ReturnRow | undefined> {
    const rows = await this.db.query<ReturnRow>(`SELECT id, status, order_id, swap_id, claim_order_id, refund_amount FROM "return" WHERE id = $1`, [
      returnId,
    ]);
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
         LEFT JOIN LATERAL (SELECT ${StoreQueries.ORDER_COLUMNS} FROM "order" o WHERE o.id = COALESCE(r.order_id, s.order_id)) ord ON true
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
        `SELECT ${StoreQueries.LINE_COLUMNS}, 0 AS quantity
           FROM line_item li LEFT JOIN product_variant pv ON pv.id = li.variant_id
          WHERE li.id = ANY($1) ORDER BY li.created_at, li.id`,
        [itemIds],
      );
    }
    return this.db.query<LineRow>(
      `SELECT ${StoreQueries.LINE_COLUMNS}, ri.quantity
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

  /** The refund claim a request with this Idempotency-Key created (Medusa resumes that claim when the key is sent again). */
  async claimByIdempotencyKey(orderId: string, key: string): Promise<{ id: string; refund_amount: number } | undefined> {
    const rows = await this.db.query<{ id: string; refund_amount: number }>(
      `SELECT id, refund_amount FROM claim_order WHERE order_id = $1 AND idempotency_key = $2 AND type = 'refund' AND canceled_at IS NULL`,
      [orderId, key],
    );
    return rows[0];
  }

  async claimLines(claimId: string): Promise<LineRow[]> {
    return this.db.query<LineRow>(
      `SELECT ${StoreQueries.LINE_COLUMNS}, ci.quantity
         FROM claim_item ci
         JOIN line_item li ON li.id = ci.item_id
         LEFT JOIN product_variant pv ON pv.id = li.variant_id
        WHERE ci.claim_order_id = $1 AND ci.deleted_at IS NULL
        ORDER BY li.created_at, li.id`,
      [claimId],
    );
  }

  async returnStatus(returnId: string): Promise<string | undefined> {
    return (await this.returnRow(returnId))?.status;
  }
  async claimState(claimId: string): Promise<{ payment_status: string; canceled_at: Date | null; idempotency_key: string | null } | undefined> {
    const rows = await this.db.query<{ payment_status: string; canceled_at: Date | null; idempotency_key: string | null }>(
      `SELECT payment_status, canceled_at, idempotency_key FROM claim_order WHERE id = $1`,
      [claimId],
    );
    return rows[0];
  }
  async swapState(swapId: string): Promise<{ payment_status: string; canceled_at: Date | null } | undefined> {
    const rows = await this.db.query<{ payment_status: string; canceled_at: Date | null }>(
      `SELECT payment_status, canceled_at FROM swap WHERE id = $1`,
      [swapId],
    );
    return rows[0];
  }
  async paymentOrderId(paymentId: string): Promise<string | undefined> {
    const rows = await this.db.query<{ order_id: string | null }>(`SELECT order_id FROM payment WHERE id = $1`, [paymentId]);
    return rows[0]?.order_id ?? undefined;
  }
  /** What Medusa will record as captured for a cart's Klarna payment (PaymentProviderService.createPayment: the cart total). */
  async klarnaPaymentAmount(cartId: string): Promise<number | undefined> {
    const rows = await this.db.query<{ amount: number }>(
      `SELECT amount FROM payment WHERE cart_id = $1 AND provider_id = '${PROVIDER_ID}' ORDER BY created_at DESC LIMIT 1`,
      [cartId],
    );
    return rows[0] ? Number(rows[0].amount) : undefined;
  }
  /**
   * The refunds Medusa committed on a Klarna order, as the processor answered them: Medusa saves that
   * answer (`payment.data.refunds`, one entry per refund with its ledger intent) in the transaction
   * that writes its refund row (PaymentProviderService.refundPayment), so an entry exists exactly when
   * Medusa recorded the refund. `of` narrows the search to the Medusa order's or the cart's payments
   * (indexed columns); the Klarna order id alone scans every payment.
   */
  async medusaRecordedRefunds(klarnaOrderId: string, of: { orderId?: string | null; cartId?: string | null } = {}): Promise<MedusaRecordedRefund[]> {
    const narrow = of.orderId ? `AND p.order_id = $2` : of.cartId ? `AND p.cart_id = $2` : "";
    const rows = await this.db.query<{ refunds: MedusaRecordedRefund[] | null }>(
      `SELECT COALESCE(jsonb_agg(e), '[]') AS refunds
         FROM payment p, jsonb_array_elements(${committedRefundsOf("p")}) e
        WHERE p.provider_id = '${PROVIDER_ID}' AND p.data->>'order_id' = $1 ${narrow}`,
      narrow ? [klarnaOrderId, of.orderId || of.cartId] : [klarnaOrderId],
    );
    return rows[0]?.refunds ?? [];
  }
  /**
   * Medusa's books of a Klarna order: its captured Klarna payments, and their refunds (Medusa's
   * order refunds carry no payment id, PaymentProviderService.refundPayment; a payment's refund does).
   */
  async medusaBooks(klarnaOrderId: string): Promise<MedusaBooks> {
    const [row] = await this.db.query<{
      order_id: string | null;
      display_id: number | null;
      currency_code: string | null;
      captured: string;
      refunds: MedusaBooks["refunds"];
    }>(
      `WITH p AS (SELECT id, order_id, amount, captured_at, currency_code FROM payment
                   WHERE provider_id = '${PROVIDER_ID}' AND data->>'order_id' = $1)
       SELECT (SELECT order_id FROM p WHERE order_id IS NOT NULL LIMIT 1) AS order_id,
              (SELECT o.display_id FROM "order" o WHERE o.id = (SELECT order_id FROM p WHERE order_id IS NOT NULL LIMIT 1)) AS display_id,
              (SELECT currency_code FROM p LIMIT 1) AS currency_code,
              COALESCE((SELECT sum(amount) FROM p WHERE captured_at IS NOT NULL), 0) AS captured,
              COALESCE((SELECT json_agg(json_build_object('id', r.id, 'amount', r.amount, 'reason', r.reason, 'note', r.note, 'created_at', r.created_at) ORDER BY r.created_at)
                          FROM refund r WHERE r.payment_id IN (SELECT id FROM p)
                             OR (r.payment_id IS NULL AND r.order_id IN (SELECT order_id FROM p))), '[]') AS refunds`,
      [klarnaOrderId],
    );
    const refunds = (row?.refunds ?? []).map((r) => ({ ...r, amount: Number(r.amount) }));
    return {
      order_id: row?.order_id ?? null,
      display_id: row?.display_id ?? null,
      currency_code: row?.currency_code ?? null,
      captured: Number(row?.captured ?? 0),
      refunded: refunds.reduce((sum, r) => sum + r.amount, 0),
      refunds,
    };
  }
  /** The Klarna payment of an order, with what the lifecycle steps need to know about it. */
  async klarnaPayment(orderId: string): Promise<KlarnaPaymentRow | undefined> {
    const rows = await this.db.query<KlarnaPaymentRow>(
      `SELECT p.id AS payment_id, p.data->>'order_id' AS klarna_order_id, p.amount, p.currency_code, p.captured_at, p.canceled_at,
              p.data->>'expires_at' AS expires_at, p.order_id
         FROM payment p
        WHERE p.order_id = $1 AND p.provider_id = '${PROVIDER_ID}' AND p.data->>'order_id' IS NOT NULL ORDER BY p.created_at LIMIT 1`,
      [orderId],
    );
    return rows[0] ? { ...rows[0], amount: Number(rows[0].amount) } : undefined;
  }
  /**
   * Uncaptured, uncancelled Klarna payments of orders whose authorisation expires within `days`
   * (by the expiry the plugin stored; unknown ones too), leaving out those Klarna refused to extend
   * at the expiry they have now.
   */
  async authorizationsExpiringWithin(days: number, limit: number): Promise<KlarnaPaymentRow[]> {
    const rows = await this.db.query<KlarnaPaymentRow>(
      `SELECT p.id AS payment_id, p.data->>'order_id' AS klarna_order_id, p.amount, p.currency_code, p.captured_at, p.canceled_at,
              p.data->>'expires_at' AS expires_at, p.order_id
         FROM payment p
         JOIN "order" o ON o.id = p.order_id
        WHERE p.provider_id = '${PROVIDER_ID}' AND p.data->>'order_id' IS NOT NULL
          AND p.captured_at IS NULL AND p.canceled_at IS NULL AND o.status NOT IN ('canceled', 'archived')
          AND (p.data->>'expires_at' IS NULL OR (p.data->>'expires_at')::timestamptz < now() + make_interval(days => $1))
          AND (p.data->'authorization_extension_refused'->>'expires_at') IS DISTINCT FROM p.data->>'expires_at'
        ORDER BY p.data->>'expires_at' NULLS FIRST
        LIMIT $2`,
      [days, limit],
    );
    return rows.map((r) => ({ ...r, amount: Number(r.amount) }));
  }
  /**
   * A shipment (a fulfillment marked shipped) with its tracking links, the non-return shipping option
   * of its order served by the same fulfillment provider, and the SKUs of its items.
   */
  async shipment(fulfillmentId: string): Promise<ShipmentRow | undefined> {
    const rows = await this.db.query<ShipmentRow>(`${SHIPMENT_SELECT} WHERE f.id = $1`, [fulfillmentId]);
    return rows[0];
  }
  /** Every shipment of an order not cancelled, oldest first. */
  async shipmentsOfOrder(orderId: string): Promise<ShipmentRow[]> {
    return this.db.query<ShipmentRow>(
      `${SHIPMENT_SELECT} WHERE f.order_id = $1 AND f.shipped_at IS NOT NULL AND f.canceled_at IS NULL ORDER BY f.shipped_at, f.id`,
      [orderId],
    );
  }
  /** The cart whose Klarna payment session placed this Klarna order (IDX_klarna_payment_session_order). */
  async cartOfKlarnaOrder(klarnaOrderId: string): Promise<string | undefined> {
    const rows = await this.db.query<{ cart_id: string }>(
      `SELECT cart_id FROM payment_session WHERE provider_id = '${PROVIDER_ID}' AND data->>'order_id' = $1 LIMIT 1`,
      [klarnaOrderId],
    );
    return rows[0]?.cart_id;
  }
  /** A cart and the Medusa order made from it, if any (Medusa allows one order per cart). */
  async cartState(cartId: string): Promise<{ cart_id: string; completed_at: Date | null; order_id: string | null } | undefined> {
    const rows = await this.db.query<{ cart_id: string; completed_at: Date | null; order_id: string | null }>(
      `SELECT c.id AS cart_id, c.completed_at, o.id AS order_id FROM cart c LEFT JOIN "order" o ON o.cart_id = c.id WHERE c.id = $1`,
      [cartId],
    );
    return rows[0];
  }
  /**
   * Klarna orders with activity since `since` (their ledger, their Medusa payment or refunds changed),
   * plus those whose last reconciliation found a difference; all of them when `since` is null.
   */
  async klarnaOrdersWithActivity(since: Date | null, limit: number): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM (
         SELECT p.data->>'order_id' AS id FROM payment p
          WHERE p.provider_id = '${PROVIDER_ID}' AND p.data->>'order_id' IS NOT NULL AND p.order_id IS NOT NULL
            AND ($1::timestamptz IS NULL OR p.updated_at >= $1
                 OR EXISTS (SELECT 1 FROM refund r WHERE r.payment_id = p.id AND r.created_at >= $1))
         UNION SELECT klarna_order_id FROM klarna_refund WHERE $1::timestamptz IS NULL OR updated_at >= $1
         UNION SELECT klarna_order_id FROM klarna_order_state WHERE agrees = false
       ) a WHERE id IS NOT NULL LIMIT $2`,
      [since, limit],
    );
    return rows.map((r) => r.id);
  }
}

/** One refund as Medusa committed it (an entry of `payment.data.refunds`, services/klarna.ts refundPayment). */
export interface MedusaRecordedRefund {
  klarna_refund_id: string;
  amount: number;
  intent: string;
  idempotency_key: string;
}

export interface MedusaBooks {
  order_id: string | null;
  display_id: number | null;
  currency_code: string | null;
  /** Σ amount of the captured Klarna payments. */
  captured: number;
  refunded: number;
  refunds: Array<{ id: string; amount: number; reason: string; note: string | null; created_at: string }>;
}

export interface KlarnaPaymentRow {
  payment_id: string;
  klarna_order_id: string;
  /** What Medusa records as captured when the payment is captured. */
  amount: number;
  currency_code: string;
  captured_at: Date | null;
  canceled_at: Date | null;
  /** The authorisation's expiry the plugin stored (Klarna's `expires_at`), if any. */
  expires_at: string | null;
  order_id: string | null;
}

export interface ShipmentRow {
  fulfillment_id: string;
  order_id: string | null;
  provider_id: string | null;
  shipped_at: Date | null;
  tracking: Array<{ number: string; url: string | null }>;
  /** The order's shipping option served by this fulfillment's provider. */
  option: { name: string; metadata: Record<string, unknown> | null } | null;
  skus: string[];
}

const SHIPMENT_SELECT = `SELECT f.id AS fulfillment_id, f.order_id, f.provider_id, f.shipped_at,
    (SELECT COALESCE(json_agg(json_build_object('number', t.tracking_number, 'url', t.url) ORDER BY t.created_at, t.id), '[]')
       FROM tracking_link t WHERE t.fulfillment_id = f.id AND t.deleted_at IS NULL) AS tracking,
    (SELECT json_build_object('name', so.name, 'metadata', so.metadata)
       FROM shipping_method sm JOIN shipping_option so ON so.id = sm.shipping_option_id
      WHERE sm.order_id = f.order_id AND so.is_return = false AND (f.provider_id IS NULL OR so.provider_id = f.provider_id)
      ORDER BY sm.id LIMIT 1) AS option,
    (SELECT COALESCE(json_agg(DISTINCT pv.sku) FILTER (WHERE pv.sku IS NOT NULL), '[]')
       FROM fulfillment_item fi JOIN line_item li ON li.id = fi.item_id LEFT JOIN product_variant pv ON pv.id = li.variant_id
      WHERE fi.fulfillment_id = f.id) AS skus
  FROM fulfillment f`;
