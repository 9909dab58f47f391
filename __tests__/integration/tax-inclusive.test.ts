import { sumTotals } from "../../src/klarna/order-lines";
import { capturedOrder, itemOf, klarnaPosts, ok, receive, requestReturn, useStore } from "../support/store";

/**
 * A store with Medusa's tax-inclusive pricing (feature flag tax_inclusive_pricing, region and return
 * option priced with tax included): the refund lines carry the prices the shopper saw, and still add up.
 */
const s = useStore({
  env: { MEDUSA_FF_TAX_INCLUSIVE_PRICING: "true" },
  async setup(s) {
    ok(await s.admin().post(`/admin/regions/${s.seed.region.id}`, { includes_tax: true }), "region includes tax");
    // Variant prices are currency prices: the currency says whether they include tax.
    ok(await s.admin().post(`/admin/currencies/eur`, { includes_tax: true }), "eur includes tax");
    for (const option of [s.seed.shippingOption, s.seed.returnShippingOption]) {
      ok(await s.admin().post(`/admin/shipping-options/${option.id}`, { includes_tax: true, requirements: [] }), "option includes tax");
    }
  },
});

it("refunds the tax-inclusive price and the tax-inclusive return label", async () => {
  const { order } = await capturedOrder(s);
  const tee = itemOf(order, s.seed.variants[0].id);
  expect(tee.includes_tax).toBe(true);
  const ret = await requestReturn(s, order, [{ item_id: tee.id, quantity: 1 }]);
  expect(ret.refund_amount).toBe(2500 - 300);
  await s.k.control("DELETE", "/journal");
  expect((await receive(s, ret.id, [{ item_id: tee.id, quantity: 1 }])).status).toBe(200);
  const [post] = await klarnaPosts(s, "/refunds");
  expect(post.body.order_lines).toEqual([
    {
      type: "physical",
      reference: "TEE-ORG-S",
      name: "Organic Cotton T-Shirt, S",
      quantity: 1,
      unit_price: 2500,
      tax_rate: 1900,
      total_amount: 2500,
      total_tax_amount: 399,
    },
    {
      type: "return_fee",
      reference: "return-fee",
      name: "DHL Return label",
      quantity: 1,
      unit_price: -300,
      tax_rate: 1900,
      total_amount: -300,
      total_tax_amount: -48,
    },
  ]);
  expect(sumTotals(post.body.order_lines)).toBe(2200);
});
