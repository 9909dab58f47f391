// @ts-check
// The store every script and test starts from, made through Medusa's admin API: an admin, a German
// region (EUR, 19 % VAT), a T-shirt in S (€25) and L (€30), a €5 shipping option and a €3 return
// label, and a publishable API key on the default sales channel.
"use strict";

const { client } = require("./http");

/**
 * @typedef {object} Seed
 * @property {string} email        the admin's
 * @property {string} password
 * @property {string} token        the admin's bearer token
 * @property {any} region
 * @property {any} product
 * @property {any[]} variants      [S, L]
 * @property {any} shippingOption
 * @property {any} returnShippingOption
 * @property {string} publishableApiKey
 */

/**
 * @param {object} o
 * @param {any} o.container          Medusa's container (no HTTP route creates the first admin)
 * @param {string} o.url             the store
 * @param {string} [o.email]
 * @param {string} [o.password]
 * @param {string[]} [o.paymentProviders]
 * @param {string[]} [o.fulfillmentProviders]
 * @returns {Promise<Seed>}
 */
async function seedStore({
  container,
  url,
  email = "admin@example.com",
  password = "supersecret",
  paymentProviders = ["manual"],
  fulfillmentProviders = ["manual"],
}) {
  // 1. admin user: no unauthenticated HTTP route creates the first user
  //    (POST /admin/users needs auth); `medusa user -e -p` does this same call.
  const userService = container.resolve("userService");
  const existing = await userService.list({ email }).catch(() => []);
  if (!existing.length) await userService.create({ email, role: "admin" }, password);

  const anon = client(url);
  // 2. JWT bearer (1.20 has POST /admin/auth/token -> { access_token })
  const { data: tok } = await anon.post("/admin/auth/token", { email, password });
  const admin = client(url, { token: tok.access_token });

  // 3. EUR must be a store currency before a region can use it (store default: usd)
  await admin.post("/admin/store/currencies/eur");

  // 4. region
  const { data: r } = await admin.post("/admin/regions", {
    name: "Germany",
    currency_code: "eur",
    tax_rate: 19,
    tax_code: "DE19",
    payment_providers: paymentProviders,
    fulfillment_providers: fulfillmentProviders,
    countries: ["de"],
  });
  const region = r.region;

  // 5. product with 2 variants (assigned to the default sales channel)
  const { data: p } = await admin.post("/admin/products", {
    title: "Organic Cotton T-Shirt",
    handle: "organic-cotton-t-shirt",
    status: "published",
    is_giftcard: false,
    discountable: true,
    options: [{ title: "Size" }],
    variants: [
      { title: "S", sku: "TEE-ORG-S", prices: [{ currency_code: "eur", amount: 2500 }], options: [{ value: "S" }], manage_inventory: false },
      { title: "L", sku: "TEE-ORG-L", prices: [{ currency_code: "eur", amount: 3000 }], options: [{ value: "L" }], manage_inventory: false },
    ],
  });
  const product = p.product;

  // 6. shipping option + return shipping option (medusa-fulfillment-manual ids)
  /** @type {(name: string, amount: number, isReturn: boolean) => Promise<any>} */
  const addShippingOption = async (name, amount, isReturn) => {
    const { data } = await admin.post("/admin/shipping-options", {
      name,
      region_id: region.id,
      provider_id: "manual",
      data: { id: isReturn ? "manual-fulfillment-return" : "manual-fulfillment" },
      price_type: "flat_rate",
      amount,
      is_return: isReturn,
    });
    return data.shipping_option;
  };
  const shippingOption = await addShippingOption("DHL Standard", 500, false);
  const returnShippingOption = await addShippingOption("DHL Return label", 300, true);

  // 7. sales channel: the default one exists (created by the defaults loader);
  //    store routes without x-publishable-api-key use it
  //    (api/middlewares/with-default-sales-channel.js). A publishable key is
  //    optional; create one so tests can send it if they want.
  const { data: sc } = await admin.get("/admin/sales-channels");
  const defaultSc = sc.sales_channels[0];
  const { data: pak } = await admin.post("/admin/publishable-api-keys", { title: "storefront" });
  await admin.post(`/admin/publishable-api-keys/${pak.publishable_api_key.id}/sales-channels/batch`, {
    sales_channel_ids: [{ id: defaultSc.id }],
  });

  return {
    email,
    password,
    token: tok.access_token,
    region,
    product,
    variants: product.variants,
    shippingOption,
    returnShippingOption,
    publishableApiKey: pak.publishable_api_key.id,
  };
}

module.exports = { seedStore };
