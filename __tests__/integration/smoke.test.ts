import { capturedOrder, klarnaPosts, ledgerRows, receive, requestReturn, startStore, TestStore } from "../support/store";

let s: TestStore;
beforeAll(async () => {
  s = await startStore();
}, 180_000);
afterAll(() => s?.stop());

it("smoke: checkout, capture, return with fee, receive", async () => {
  const { order, klarnaOrderId } = await capturedOrder(s);
  const item = order.items.find((i: any) => i.variant_id === s.seed.variants[0].id);
  const ret = await requestReturn(s, order, [{ item_id: item.id, quantity: 1 }]);
  const res = await receive(s, ret.id, [{ item_id: item.id, quantity: 1 }]);
  console.log(res.status, JSON.stringify(res.body).slice(0, 300));
  const posts = await klarnaPosts(s, "/refunds");
  console.log(JSON.stringify(posts, null, 1));
  console.log(await ledgerRows(s));
  const { body } = await s.admin().get(`/admin/orders/${order.id}?expand=refunds,payments`);
  console.log(JSON.stringify(body.order.refunds), JSON.stringify(body.order.payments[0].data));
  expect(klarnaOrderId).toBeTruthy();
});
