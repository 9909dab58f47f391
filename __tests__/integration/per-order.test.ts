import { v4 as uuidv4 } from "uuid";
import { books, expectBooksAgree } from "../support/books";
import { useRefundRollback } from "../support/refund-rollback";
import {
  checkoutWithKlarna,
  fulfilledOrder,
  itemOf,
  klarnaPosts,
  ledgerRows,
  loseRefundAnswers,
  ok,
  orderWithReturn,
  receive,
  requestReturn,
  useStore,
  waitFor,
} from "../support/store";

/**
 * Klarna's money and Medusa's books agree per Klarna order, whatever happens: sequences found by
 * trying the store as an attacker and an unlucky admin would, outside the single-request paths.
 * Real store, real PostgreSQL, the emulator as Klarna.
 */
const s = useStore();
const rollback = useRefundRollback(s);

const REFUNDS = "/ordermanagement/v1/orders/*/refunds";
const L = () => s.seed.variants[1].id;

/**
 * A return whose refund Klarna made but whose answer was lost (the receive failed), then cancelled
 * by code, not through the admin route (no plugin middleware sees it); Klarna then answers again.
 */
async function refundLostThenReturnCancelledByCode() {
  const p = await orderWithReturn(s);
  await loseRefundAnswers(s);
  expect((await receive(s, p.ret.id, p.items)).status).toBe(400);
  await s.container.resolve("manager").transaction((m: any) => s.container.resolve("returnService").withTransaction(m).cancel(p.ret.id));
  await s.k.control("DELETE", "/faults");
  return p;
}

/**
 * The admin receives again a return whose refund's outcome was unknown: the receive succeeds, every
 * refund call (the first attempts' and the retry's) carried the first key, and Klarna holds one
 * refund, in both books.
 */
async function expectRetryRefundsOnce(
  { klarnaOrderId, ret, items }: { klarnaOrderId: string; ret: { id: string }; items: Array<{ item_id: string; quantity: number }> },
  key: string,
) {
  expect((await receive(s, ret.id, items)).status).toBe(200);
  const posts = await klarnaPosts(s, "/refunds");
  expect(new Set(posts.map((p) => p.idempotency_key))).toEqual(new Set([key]));
  const b = await expectBooksAgree(s, klarnaOrderId);
  expect(b.klarna.refunds).toHaveLength(1);
}

describe("checkout: a Klarna order is accepted only for its own cart", () => {
  it("an authorization token replayed on a bigger cart pays for nothing: the cart is refused, Klarna keeps one order", async () => {
    const a = await checkoutWithKlarna(s);
    expect(a.completed.body.type).toBe("order");
    const tokenA = a.auth.authorization_token as string;
    const ordersBefore = s.k.emulator.state.orders.size;

    // Cart B (three large shirts) gets cart A's token, as a hostile shopper would send it.
    const b = await checkoutWithKlarna(s, { items: [{ variant_id: L(), quantity: 3 }], authorize: { approved: false } });
    expect((await s.store().post(`/store/carts/${b.cartId}/payment-sessions/klarna`, { data: { authorization_token: tokenA } })).status).toBe(200);
    const completed = await s.store().post(`/store/carts/${b.cartId}/complete`);
    expect(completed.status).toBeGreaterThanOrEqual(400);
    expect(completed.status).toBeLessThan(500);
    expect(completed.body.message).toMatch(/^The Klarna payment does not belong to this cart/);
    expect(completed.body.message).not.toMatch(/idempotency|password|username|correlation/i);

    const { body } = await s.store().get(`/store/carts/${b.cartId}`);
    expect(body.cart.completed_at).toBeNull();
    expect(await s.db.query(`SELECT id FROM "order" WHERE cart_id = $1`, [b.cartId])).toEqual([]);
    // No Klarna order pays for cart B; cart A's order is unchanged.
    const orders = [...s.k.emulator.state.orders.values()];
    expect(orders.filter((o) => o.merchant_reference1 === b.cartId)).toEqual([]);
    expect(s.k.emulator.state.orders.size).toBe(ordersBefore);
    const aOrder = a.completed.body.data;
    await expectBooksAgree(s, aOrder.payments[0].data.order_id);
  });

  it("a capture Klarna cannot make in full is refused, and Medusa does not call the payment captured", async () => {
    const { completed } = await checkoutWithKlarna(s);
    const order = completed.body.data;
    const klarnaOrderId = order.payments[0].data.order_id;
    // Part of it was captured in Klarna's portal and the rest released: Klarna holds 1000 of the order.
    const key = () => ({ headers: { "Klarna-Idempotency-Key": uuidv4() } });
    expect((await s.k.call("POST", `/ordermanagement/v1/orders/${klarnaOrderId}/captures`, { captured_amount: 1000 }, key())).status).toBe(201);
    expect((await s.k.call("POST", `/ordermanagement/v1/orders/${klarnaOrderId}/release-remaining-authorization`, {}, key())).status).toBe(204);

    const res = await s.admin().post(`/admin/orders/${order.id}/capture`);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^Klarna holds only 10\.00 EUR of this order's \d+\.\d\d EUR/);
    const payment = (await s.db.query(`SELECT captured_at FROM payment WHERE id = $1`, [order.payments[0].id]))[0];
    expect(payment.captured_at).toBeNull();
    // The admin can still act: the order is not left in "requires action" without a capture button.
    const after = await s.admin().get(`/admin/orders/${order.id}`);
    expect(after.body.order.payment_status).toBe("awaiting");
  });
});

describe("fee give-backs at once", () => {
  it("five concurrent give-backs over three returns: each fee goes back once, at Klarna and in Medusa", async () => {
    const prepared = [];
    for (let i = 0; i < 3; i++) {
      const p = await orderWithReturn(s);
      expect((await receive(s, p.ret.id, p.items)).status).toBe(200);
      prepared.push(p);
    }
    const targets = [prepared[0], prepared[0], prepared[1], prepared[2], prepared[2]];
    const answers = await Promise.all(targets.map((p) => s.admin().post(`/admin/klarna/returns/${p.ret.id}/waive-return-fee`)));
    for (const p of prepared) {
      const mine = answers.filter((_, i) => targets[i] === p);
      expect(mine.filter((a) => a.status === 200)).toHaveLength(1);
      for (const other of mine.filter((a) => a.status !== 200)) {
        // One expect, so that a failure shows the message the admin got.
        expect({ status: other.status, message: other.body.message }).toEqual({
          status: 422,
          message: expect.stringMatching(/was already given back/),
        });
      }
      const b = await expectBooksAgree(s, p.klarnaOrderId);
      expect(b.klarna.refunds.filter((r) => r.reference === `${p.ret.id}/return-fee-refund`)).toHaveLength(1);
      expect(b.medusa.refunds.map((r) => r.amount)).toEqual([2618, 357]);
      const metadata = await waitFor(async () => {
        const [row] = await s.db.query(`SELECT metadata FROM "return" WHERE id = $1`, [p.ret.id]);
        return row.metadata?.klarna?.return_fee_refund ? row.metadata.klarna : undefined;
      });
      expect(metadata.return_fee_refund).toMatchObject({ refund_id: expect.any(String), status: "succeeded" });
    }
  }, 120_000);
});

describe("an outcome Klarna never confirmed is settled against Klarna's order before money moves again", () => {
  it("cancelling a return whose refund Klarna made (answer lost) is refused: the admin is told to receive it", async () => {
    const { klarnaOrderId, ret, items } = await orderWithReturn(s);
    await loseRefundAnswers(s);
    expect((await receive(s, ret.id, items)).status).toBe(400);
    await s.k.control("DELETE", "/faults");
    const klarnaRefund = (await books(s, klarnaOrderId)).klarna.refunds[0];

    const cancel = await s.admin().post(`/admin/returns/${ret.id}/cancel`);
    expect(cancel.status).toBe(400);
    expect(cancel.body.message).toBe(
      `Klarna already refunded 26.18 EUR for return ${ret.id} (Klarna refund ${klarnaRefund.refund_id}); the answer was lost on the way. ` +
        `Receive the return to record that refund in Medusa: nothing will be sent to Klarna again.`,
    );
    const [row] = await s.db.query(`SELECT status FROM "return" WHERE id = $1`, [ret.id]);
    expect(row.status).toBe("requested");
    expect((await receive(s, ret.id, items)).status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds).toHaveLength(1);
  });

  it("a return cancelled behind the plugin's back, then returned again: the new return adopts Klarna's refund, nothing is sent twice", async () => {
    const { order, klarnaOrderId, ret, items } = await refundLostThenReturnCancelledByCode();

    const again = await requestReturn(s, order, items);
    const res = await receive(s, again.id, items);
    expect(res.status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds).toHaveLength(1);
    const rows = await ledgerRows(s, "klarna_order_id = $1", [klarnaOrderId]);
    const adopted = rows.find((r: any) => r.intent === `return:${again.id}`);
    expect(adopted).toMatchObject({ status: "succeeded", klarna_refund_id: b.klarna.refunds[0].refund_id });
    expect(adopted.notes.join(" ")).toMatch(new RegExp(`adopted Klarna refund ${b.klarna.refunds[0].refund_id}, made for return ${ret.id}`));
  });

  it("a new refund of another amount is refused while an earlier one Klarna made is unrecorded, naming it and what to do", async () => {
    const { order, klarnaOrderId, ret } = await refundLostThenReturnCancelledByCode();
    const klarnaRefund = (await books(s, klarnaOrderId)).klarna.refunds[0];

    const manual = await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 1000, reason: "other" });
    expect(manual.status).toBe(400);
    expect(manual.body.message).toMatch(
      new RegExp(
        `^Klarna already refunded 26\\.18 EUR for return ${ret.id} \\(Klarna refund ${klarnaRefund.refund_id}\\), which Medusa never recorded`,
      ),
    );
    expect(manual.body.message).toMatch(/Nothing was sent\. Record that refund first: POST \/admin\/klarna\/orders\/order_\w+\/adopt-refund/);
    expect((await books(s, klarnaOrderId)).klarna.refunds).toHaveLength(1);

    const adopt = await s.admin().post(`/admin/klarna/orders/${order.id}/adopt-refund`, { klarna_refund_id: klarnaRefund.refund_id });
    expect(adopt.status).toBe(200);
    await expectBooksAgree(s, klarnaOrderId);
    expect((await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 1000, reason: "other" })).status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds.map((r) => r.refunded_amount)).toEqual([2618, 1000]);
  });

  it("recording a refund Klarna made, clicked twice at once: Medusa records it once", async () => {
    const { order, klarnaOrderId } = await refundLostThenReturnCancelledByCode();
    const klarnaRefund = (await books(s, klarnaOrderId)).klarna.refunds[0];
    const postsBefore = (await klarnaPosts(s, "/refunds")).length;
    const adopt = () => s.admin().post(`/admin/klarna/orders/${order.id}/adopt-refund`, { klarna_refund_id: klarnaRefund.refund_id });
    const answers = await Promise.all([adopt(), adopt()]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 422]);
    expect(answers.find((a) => a.status === 422)!.body.message).toMatch(
      new RegExp(`^Medusa already records Klarna refund ${klarnaRefund.refund_id}`),
    );
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.medusa.refunds.map((r) => r.amount)).toEqual([2618]);
    expect(await klarnaPosts(s, "/refunds")).toHaveLength(postsBefore);
  });

  for (const [name, later] of [
    [
      "409 for a duplicate still in flight",
      { status: 409, error_code: "CONFLICT", error_messages: ["A request with this idempotency key is already being processed."] },
    ],
    ["404 during a credential change", { status: 404, error_code: "NO_SUCH_ORDER", error_messages: ["Order cannot be found"] }],
    ["401 during a credential change", { status: 401 }],
  ] as const) {
    it(`a 4xx after an unknown outcome (${name}) does not replace the key: Klarna refunds once`, async () => {
      const { klarnaOrderId, ret, items } = await orderWithReturn(s);
      // Attempt 1 reaches Klarna and refunds, its answer is lost; attempt 2 gets the 4xx.
      await s.k.control("POST", "/faults", { method: "POST", path: REFUNDS, drop: "after", times: 1 });
      await s.k.control("POST", "/faults", { method: "POST", path: REFUNDS, ...later, times: 1 });
      await s.k.control("POST", "/faults", { method: "GET", path: "/ordermanagement/v1/orders/*", status: 503, times: 3 });
      const first = await receive(s, ret.id, items);
      expect(first.status).toBe(400);
      expect(first.body.message).toMatch(/^Klarna did not confirm the refund/);
      const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
      expect(row.status).toBe("unknown");

      await expectRetryRefundsOnce({ klarnaOrderId, ret, items }, row.idempotency_key);
    });
  }

  it("a 201 without Refund-Id is Klarna acting: the refund is found on its order, nothing is sent twice", async () => {
    const { klarnaOrderId, ret, items } = await orderWithReturn(s);
    await s.k.control("POST", "/faults", { method: "POST", path: REFUNDS, omit_headers: ["Refund-Id"], times: 1 });
    expect((await receive(s, ret.id, items)).status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds).toHaveLength(1);
    const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
    expect(row).toMatchObject({ status: "succeeded", klarna_refund_id: b.klarna.refunds[0].refund_id });
    expect(await klarnaPosts(s, "/refunds")).toHaveLength(1);
  });

  it("a 201 without Refund-Id and an unreadable order: the key is kept, and the retry refunds nothing twice", async () => {
    const { klarnaOrderId, ret, items } = await orderWithReturn(s);
    await s.k.control("POST", "/faults", { method: "POST", path: REFUNDS, omit_headers: ["Refund-Id"], times: 1 });
    await s.k.control("POST", "/faults", { method: "GET", path: "/ordermanagement/v1/orders/*", status: 503, times: 3 });
    const first = await receive(s, ret.id, items);
    expect(first.status).toBe(400);
    expect(first.body.message).toMatch(/^Klarna did not confirm the refund: Klarna answered 201 without a Refund-Id header\./);
    const [unknown] = await ledgerRows(s, "resource_id = $1", [ret.id]);
    expect(unknown.status).toBe("unknown");
    await expectRetryRefundsOnce({ klarnaOrderId, ret, items }, unknown.idempotency_key);
  });

  it("an answer lost after Klarna refunded is settled by reading the order once: the receive succeeds", async () => {
    const { klarnaOrderId, ret, items } = await orderWithReturn(s);
    await s.k.control("POST", "/faults", { method: "POST", path: REFUNDS, drop: "after", times: 3 });
    const res = await receive(s, ret.id, items);
    expect(res.status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds).toHaveLength(1);
    const [row] = await ledgerRows(s, "resource_id = $1", [ret.id]);
    expect(row.notes.join(" ")).toMatch(/Klarna did not confirm the refund; its order shows refund [0-9a-f-]+ with this refund's reference/);
  });

  it("when Klarna made nothing, the admin is told so after one look at the order", async () => {
    const { klarnaOrderId, ret, items } = await orderWithReturn(s);
    await s.k.control("POST", "/faults", { method: "POST", path: REFUNDS, drop: "before", times: 3 });
    const res = await receive(s, ret.id, items);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(
      new RegExp(
        `^Klarna did not confirm the refund: .*\\. Klarna's order shows no refund for return ${ret.id} \\(checked just now\\)\\. It is safe to retry: the retry reuses the same idempotency key, so Klarna refunds at most once`,
      ),
    );
    expect((await books(s, klarnaOrderId)).klarna.refunds).toHaveLength(0);
  });
});

describe("a crashed attempt", () => {
  it("a lease whose holder stopped answering: the admin is told at once, and a retry goes through once it lapses", async () => {
    const { klarnaOrderId, ret, items } = await orderWithReturn(s);
    // A server died holding the Klarna order's lease: its heartbeat stopped 8 s ago; the lease lapses in 2 s.
    await s.db.query(
      `INSERT INTO klarna_order_state (klarna_order_id, claimed_by, claimed_until, claim_started_at, heartbeat_at, claim_purpose)
       VALUES ($1, gen_random_uuid(), now() + interval '2 seconds', now() - interval '9 seconds', now() - interval '8 seconds', 'a refund of 26.18 EUR')
       ON CONFLICT (klarna_order_id) DO UPDATE SET claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until,
         claim_started_at = EXCLUDED.claim_started_at, heartbeat_at = EXCLUDED.heartbeat_at, claim_purpose = EXCLUDED.claim_purpose`,
      [klarnaOrderId],
    );
    const t0 = Date.now();
    const first = await receive(s, ret.id, items);
    expect(Date.now() - t0).toBeLessThan(3000); // no hang
    expect(first.status).toBe(400);
    expect(first.body.message).toMatch(
      /^An earlier attempt on this Klarna order \(a refund of 26\.18 EUR, started 9 s ago\) stopped responding 8 s ago; its server may have crashed\. Nothing was sent\. Its hold on the order lapses in [12] s: retry then, and the plugin settles that attempt with Klarna first/,
    );
    expect(await klarnaPosts(s, "/refunds")).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await receive(s, ret.id, items)).status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds).toHaveLength(1);
  });
});

/**
 * The request's end cannot be written: the statement that records what Klarna made and releases the
 * order's lease fails (as when the process dies right after Medusa committed). The ledger entry keeps
 * its sent key and stays pending; the lease lapses on its own.
 */
async function endNotWritten(klarnaOrderId: string, act: () => Promise<{ status: number }>) {
  await s.db.query(`CREATE TABLE IF NOT EXISTS test_fail_release (klarna_order_id text PRIMARY KEY)`);
  await s.db.query(`
    CREATE OR REPLACE FUNCTION test_fail_release() RETURNS trigger AS $$
    BEGIN
      IF NEW.status = 'succeeded' AND OLD.status <> 'succeeded'
         AND EXISTS (SELECT 1 FROM test_fail_release WHERE klarna_order_id = NEW.klarna_order_id) THEN
        RAISE EXCEPTION 'forced failure of the release';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql`);
  await s.db.query(`DROP TRIGGER IF EXISTS test_fail_release ON klarna_refund`);
  await s.db.query(`CREATE TRIGGER test_fail_release BEFORE UPDATE ON klarna_refund FOR EACH ROW EXECUTE FUNCTION test_fail_release()`);
  await s.db.query(`INSERT INTO test_fail_release VALUES ($1)`, [klarnaOrderId]);
  try {
    expect((await act()).status).toBe(200);
    const answeredAt = Date.now();
    // The release is retried for about 8 s, then given up; the lease lapses within 10 s.
    await waitFor(
      async () => {
        const [state] = await s.db.query(
          `SELECT claimed_until IS NULL OR claimed_until < now() AS lapsed FROM klarna_order_state WHERE klarna_order_id = $1`,
          [klarnaOrderId],
        );
        return state.lapsed && Date.now() - answeredAt > 9000 ? true : undefined;
      },
      { timeout: 20_000, interval: 250 },
    );
  } finally {
    await s.db.query(`DELETE FROM test_fail_release`);
  }
  const pending = (await ledgerRows(s, "klarna_order_id = $1 AND status = 'pending'", [klarnaOrderId])) as any[];
  expect(pending).toHaveLength(1);
  expect(pending[0].key_first_sent_at).not.toBeNull();
}

describe("a request whose end could not be written", () => {
  it("a second manual refund of the same amount is a refund of its own: Klarna refunds twice, as Medusa records", async () => {
    const { order, klarnaOrderId } = await orderWithReturn(s);
    const refund = () => s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "other", note: "goodwill" });
    await endNotWritten(klarnaOrderId, refund);
    expect((await refund()).status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.medusa.refunds.map((r) => r.amount)).toEqual([500, 500]);
    expect(b.klarna.refunds.map((r) => r.reference)).toEqual([`${order.id}/refund-1`, `${order.id}/refund-2`]);
  }, 60_000);

  it("a return received afterwards settles the earlier manual refund with Klarna and Medusa first: each is refunded once", async () => {
    const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
    await endNotWritten(klarnaOrderId, () => s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "other" }));
    expect((await receive(s, ret.id, items)).status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds.map((r) => r.reference)).toEqual([`${order.id}/refund-1`, ret.id]);
    const rows = await ledgerRows(s, "klarna_order_id = $1", [klarnaOrderId]);
    expect(rows.map((r: any) => [r.intent, r.status, r.medusa_state])).toEqual([
      [`refund:${order.id}:1`, "succeeded", "recorded"],
      [`return:${ret.id}`, "succeeded", "recorded"],
    ]);
  }, 60_000);

  it("giving a return fee back again is refused as already given back: Klarna and Medusa hold it once", async () => {
    const { klarnaOrderId, ret, items } = await orderWithReturn(s);
    expect((await receive(s, ret.id, items)).status).toBe(200);
    const waive = () => s.admin().post(`/admin/klarna/returns/${ret.id}/waive-return-fee`);
    await endNotWritten(klarnaOrderId, waive);
    const again = await waive();
    expect({ status: again.status, message: again.body.message }).toEqual({ status: 422, message: expect.stringMatching(/already given back/) });
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.medusa.refunds.map((r) => r.amount)).toEqual([2618, 357]);
    expect(b.klarna.refunds.filter((r) => r.reference === `${ret.id}/return-fee-refund`)).toHaveLength(1);
  }, 60_000);
});

describe("manual refunds keep their identity", () => {
  it("a manual refund rolled back after Klarna refunded blocks other refunds until it is retried, and the retry refunds nothing twice", async () => {
    const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
    await rollback.arm(order.id);
    expect((await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "other", note: "goodwill" })).status).toBe(500);
    await rollback.disarm();
    const klarnaRefund = (await books(s, klarnaOrderId)).klarna.refunds[0];

    // A refund of another kind would shift Medusa's count of the order's refunds: it waits, and says why.
    const blocked = await receive(s, ret.id, items);
    expect(blocked.status).toBe(400);
    expect(blocked.body.message).toBe(
      `Klarna already refunded 5.00 EUR for a manual refund of order ${order.id} (Klarna refund ${klarnaRefund.refund_id}), which Medusa has not recorded yet. ` +
        `Nothing was sent. Refund 5.00 EUR on order ${order.id} again first (nothing will be sent to Klarna again), then try again:\n` +
        `klarna_refund_id ${klarnaRefund.refund_id}, ledger_id ${(await ledgerRows(s, "klarna_refund_id = $1", [klarnaRefund.refund_id]))[0].id}`,
    );
    const retry = await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "other", note: "goodwill" });
    expect(retry.status).toBe(200);
    expect((await receive(s, ret.id, items)).status).toBe(200);
    // A second goodwill refund of the same amount is a refund of its own, not a retry of the first.
    expect((await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "other" })).status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds.map((r) => r.refunded_amount)).toEqual([500, 2618, 500]);
    expect(b.klarna.refunds.map((r) => r.reference)).toEqual([`${order.id}/refund-1`, ret.id, `${order.id}/refund-2`]);
  });
});

describe("what Medusa recorded is read per refund, from the payment's data", () => {
  it("a refund of the same amount Medusa holds from before the plugin does not make a retry look recorded: Klarna refunds once", async () => {
    const { order, klarnaOrderId } = await orderWithReturn(s);
    // 5.00 refunded before this plugin (the old Klarna plugin): Medusa has the row, the plugin has no entry for it.
    await s.db.query(`INSERT INTO refund (id, order_id, amount, reason, note) VALUES ($1, $2, 500, 'other', 'refunded by the old Klarna plugin')`, [
      `ref_legacy_${uuidv4()}`,
      order.id,
    ]);
    const refund = () => s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "other" });
    await loseRefundAnswers(s);
    expect((await refund()).status).toBeGreaterThanOrEqual(400);
    await s.k.control("DELETE", "/faults");
    expect((await refund()).status).toBe(200);
    const b = await books(s, klarnaOrderId);
    expect(b.klarna.refunds.map((r) => [r.reference, r.refunded_amount])).toEqual([[`${order.id}/refund-1`, 500]]);
    expect(b.medusa.refunds.map((r) => r.amount)).toEqual([500, 500]);
  });

  it("adopting a Klarna refund that Medusa committed although the ledger never heard of it is refused: Medusa records it once", async () => {
    const { order, klarnaOrderId } = await orderWithReturn(s);
    await endNotWritten(klarnaOrderId, () => s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "other" }));
    const [klarnaRefund] = (await books(s, klarnaOrderId)).klarna.refunds;
    const adopt = await s.admin().post(`/admin/klarna/orders/${order.id}/adopt-refund`, { klarna_refund_id: klarnaRefund.refund_id });
    expect({ status: adopt.status, message: adopt.body.message }).toEqual({
      status: 422,
      message: `Medusa already records Klarna refund ${klarnaRefund.refund_id}. Nothing was recorded again.`,
    });
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.medusa.refunds.map((r) => r.amount)).toEqual([500]);
  }, 60_000);

  it("two refunds of one payment at once: the payment's data keeps both", async () => {
    const { order, klarnaOrderId } = await orderWithReturn(s);
    const refund = (amount: number) => s.admin().post(`/admin/orders/${order.id}/refund`, { amount, reason: "other" });
    const answers = await Promise.all([refund(500), refund(700)]);
    expect(answers.map((a) => [a.status, a.body.message])).toEqual([
      [200, undefined],
      [200, undefined],
    ]);
    const [payment] = await s.db.query(`SELECT data->'refunds' AS refunds FROM payment WHERE order_id = $1`, [order.id]);
    expect(payment.refunds.map((r: any) => r.amount).sort()).toEqual([500, 700]);
    await expectBooksAgree(s, klarnaOrderId);
  });

  it("a return received without its refund after Klarna refunded is not taken as recorded: the next refund says to record Klarna's first", async () => {
    const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
    await rollback.arm(order.id);
    expect((await receive(s, ret.id, items)).status).toBe(500);
    await rollback.disarm();
    // The admin receives the return again, refunding nothing: Medusa records the return, not Klarna's refund.
    expect((await receive(s, ret.id, items, 0)).status).toBe(200);
    const [klarnaRefund] = (await books(s, klarnaOrderId)).klarna.refunds;
    const blocked = await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "other" });
    expect(blocked.status).toBe(400);
    expect(blocked.body.message).toContain(`adopt-refund with {"klarna_refund_id":"${klarnaRefund.refund_id}"}`);
    ok(await s.admin().post(`/admin/klarna/orders/${order.id}/adopt-refund`, { klarna_refund_id: klarnaRefund.refund_id }), "adopt");
    expect((await s.admin().post(`/admin/orders/${order.id}/refund`, { amount: 500, reason: "other" })).status).toBe(200);
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.medusa.refunds.map((r) => r.amount)).toEqual([2618, 500]);
  });
});

describe("a claim whose refund rolled back after Klarna refunded", () => {
  it("is retried with its Idempotency-Key: Medusa resumes that claim, even with a newer claim of the same amount, and nothing is sent twice", async () => {
    const { order, klarnaOrderId } = await fulfilledOrder(s);
    const claim = (variant: number, key?: string) => {
      const req = s.admin().post(`/admin/orders/${order.id}/claims`, {
        type: "refund",
        refund_amount: 2000,
        claim_items: [{ item_id: itemOf(order, s.seed.variants[variant].id).id, quantity: 1, reason: "production_failure" }],
      });
      return key ? req.set("Idempotency-Key", key) : req;
    };
    await rollback.arm(order.id);
    const failed = await claim(0);
    expect(failed.status).toBeGreaterThanOrEqual(400);
    await rollback.disarm();
    // Medusa answers every claim request with the key that resumes it (a key it did not issue is ignored).
    const key = String(failed.headers["idempotency-key"]);
    const [first] = (await books(s, klarnaOrderId)).klarna.refunds;
    const [c1] = await s.db.query(`SELECT id FROM claim_order WHERE idempotency_key = $1`, [key]);

    // A newer claim of the same amount waits, and says how to finish the first.
    const blocked = await claim(1);
    expect(blocked.status).toBe(400);
    expect(blocked.body.message).toContain(`claim ${c1.id}`);
    expect(blocked.body.message).toContain(`Idempotency-Key ${key}`);
    expect(blocked.body.message).toContain(`adopt-refund with {"klarna_refund_id":"${first.refund_id}"}`);

    await s.k.control("DELETE", "/journal");
    ok(await claim(0, key), "retry the first claim");
    expect(await klarnaPosts(s, "/refunds")).toHaveLength(0);
    const [c1After] = await s.db.query(`SELECT payment_status FROM claim_order WHERE id = $1`, [c1.id]);
    expect(c1After.payment_status).toBe("refunded");
    const b = await expectBooksAgree(s, klarnaOrderId);
    expect(b.klarna.refunds.map((r) => r.reference)).toEqual([c1.id]);
  });
});

describe("an error answer after Medusa committed the refund", () => {
  it("a claim whose last stage fails after its refund committed: the ledger says recorded, as Medusa's payment data does", async () => {
    const { order, klarnaOrderId } = await fulfilledOrder(s);
    // Medusa's claim route commits the refund in one stage and finishes the request in another: make the last one fail.
    await s.db.query(`
      CREATE OR REPLACE FUNCTION test_fail_last_stage() RETURNS trigger AS $$
      BEGIN
        IF NEW.recovery_point = 'finished' AND NEW.request_path LIKE '%/claims' THEN RAISE EXCEPTION 'forced failure of the last stage'; END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await s.db.query(`CREATE TRIGGER test_fail_last_stage BEFORE UPDATE ON idempotency_key FOR EACH ROW EXECUTE FUNCTION test_fail_last_stage()`);
    let status: number;
    try {
      status = (
        await s.admin().post(`/admin/orders/${order.id}/claims`, {
          type: "refund",
          refund_amount: 2000,
          claim_items: [{ item_id: itemOf(order, s.seed.variants[0].id).id, quantity: 1, reason: "production_failure" }],
        })
      ).status;
    } finally {
      await s.db.query(`DROP TRIGGER IF EXISTS test_fail_last_stage ON idempotency_key`);
    }
    expect(status).toBeGreaterThanOrEqual(400);
    const [claim] = await s.db.query(`SELECT id, payment_status FROM claim_order WHERE order_id = $1`, [order.id]);
    expect(claim.payment_status).toBe("refunded");
    const [row] = await ledgerRows(s, "resource_id = $1", [claim.id]);
    expect(row).toMatchObject({ status: "succeeded", medusa_state: "recorded" });
    await expectBooksAgree(s, klarnaOrderId);
  });
});

describe("reconciliation", () => {
  it("a refund Klarna made whose Medusa transaction rolled back, and that nobody retries, is reported with both sides and what to do", async () => {
    const { order, klarnaOrderId, ret, items } = await orderWithReturn(s);
    await rollback.arm(order.id);
    expect((await receive(s, ret.id, items)).status).toBe(500);
    await rollback.disarm();

    const res = await s.admin().get(`/admin/klarna/reconciliation?order_id=${order.id}`);
    expect(res.status).toBe(200);
    const finding = res.body.orders.find((o: any) => o.klarna_order_id === klarnaOrderId);
    expect(finding).toMatchObject({
      order_id: order.id,
      agrees: false,
      klarna: { captured: order.total, refunded: 2618 },
      medusa: { captured: order.total, refunded: 0 },
    });
    expect(finding.findings[0].message).toMatch(new RegExp(`Klarna refunded 26\\.18 EUR for return ${ret.id} .*Medusa has not recorded it`));
    expect(finding.findings[0].suggested_action).toMatch(new RegExp(`Receive return ${ret.id} again`));
    expect((await s.admin().get(`/admin/klarna/reconciliation`)).status).toBe(200);
    expect((await s.store().get(`/admin/klarna/reconciliation`)).status).toBe(401);
  });
});
