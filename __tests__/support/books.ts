import type { TestStore } from "./store";

/**
 * Both sets of books of one Klarna order: what Klarna captured and refunded (its order, read over
 * HTTP from the emulator) and what Medusa recorded (captured Klarna payments and their refund rows).
 * The invariant every test and chaos run checks: they are equal.
 */
export interface Books {
  klarna: { captured: number; refunded: number; refunds: Array<{ refund_id: string; refunded_amount: number; reference?: string }> };
  medusa: { captured: number; refunded: number; refunds: Array<{ id: string; amount: number; reason: string }> };
}

export async function books(s: TestStore, klarnaOrderId: string): Promise<Books> {
  const k = (await s.k.call("GET", `/ordermanagement/v1/orders/${klarnaOrderId}`)).data;
  const payments = await s.db.query(`SELECT id, amount, captured_at FROM payment WHERE provider_id = 'klarna' AND data->>'order_id' = $1`, [
    klarnaOrderId,
  ]);
  const ids = payments.map((p: any) => p.id);
  // Medusa's order refunds carry no payment id (PaymentProviderService.refundPayment); a payment's refund does.
  const refunds = ids.length
    ? await s.db.query(
        `SELECT id, amount, reason FROM refund
          WHERE payment_id = ANY($1) OR (payment_id IS NULL AND order_id IN (SELECT order_id FROM payment WHERE id = ANY($1)))
          ORDER BY created_at`,
        [ids],
      )
    : [];
  return {
    klarna: { captured: k.captured_amount, refunded: k.refunded_amount, refunds: k.refunds },
    medusa: {
      captured: payments.filter((p: any) => p.captured_at).reduce((sum: number, p: any) => sum + Number(p.amount), 0),
      refunded: refunds.reduce((sum: number, r: any) => sum + Number(r.amount), 0),
      refunds: refunds.map((r: any) => ({ id: r.id, amount: Number(r.amount), reason: r.reason })),
    },
  };
}

/** Expects Klarna's captured and refunded totals to equal Medusa's for the order. */
export async function expectBooksAgree(s: TestStore, klarnaOrderId: string): Promise<Books> {
  const b = await books(s, klarnaOrderId);
  expect({ captured: b.klarna.captured, refunded: b.klarna.refunded }).toEqual({ captured: b.medusa.captured, refunded: b.medusa.refunded });
  return b;
}
