import { uncapturedLines } from "../../src/klarna/capture-plan";
import { lineArithmeticProblem, sumTotals } from "../../src/klarna/order-lines";
import { shippingInfoOf, shippingMethodFromName } from "../../src/klarna/shipping-info";
import { shipmentFromRow } from "../../src/medusa/shipping";
import type { ShipmentRow } from "../../src/medusa/store-queries";
import type { OrderLine } from "../../src/klarna/types";

const small: OrderLine = {
  type: "physical",
  reference: "TEE-ORG-S",
  name: "T-Shirt, S",
  quantity: 2,
  unit_price: 2975,
  tax_rate: 1900,
  total_amount: 5950,
  total_tax_amount: 950,
};
const large: OrderLine = {
  type: "physical",
  reference: "TEE-ORG-L",
  name: "T-Shirt, L",
  quantity: 1,
  unit_price: 3570,
  tax_rate: 1900,
  total_amount: 3570,
  total_tax_amount: 570,
};
const shipping: OrderLine = {
  type: "shipping_fee",
  name: "DHL Standard",
  quantity: 1,
  unit_price: 595,
  tax_rate: 1900,
  total_amount: 595,
  total_tax_amount: 95,
};
const order = [small, large, shipping];

describe("the lines of a capture of the rest of an order", () => {
  it("are the order's lines less those captured before", () => {
    expect(uncapturedLines(order, [{ captured_amount: 3570, order_lines: [large] }], 6545)).toEqual([small, shipping]);
  });

  it("keep a line captured in part, with what is left of it and exact arithmetic", () => {
    const one = { ...small, quantity: 1, total_amount: 2975, total_tax_amount: 475 };
    const rest = uncapturedLines(order, [{ captured_amount: 2975, order_lines: [one] }], 7140);
    expect(rest).toEqual([{ ...small, quantity: 1, total_amount: 2975, total_tax_amount: 475 }, large, shipping]);
    for (const l of rest ?? []) expect(lineArithmeticProblem(l)).toBeUndefined();
  });

  it("keep a discount on what is left when the captured part carried more than its share", () => {
    const discounted = { ...small, total_discount_amount: 100, total_amount: 5850, total_tax_amount: 934 };
    const rest = uncapturedLines(
      [discounted],
      [{ captured_amount: 2975, order_lines: [{ ...small, quantity: 1, total_amount: 2975, total_tax_amount: 475 }] }],
      2875,
    );
    expect(rest).toEqual([{ ...small, quantity: 1, total_amount: 2875, total_discount_amount: 100, total_tax_amount: taxOf2875() }]);
  });

  it.each([
    ["an earlier capture without lines", [{ captured_amount: 1000 }], 9115],
    [
      "an earlier capture of a line not on the order",
      [{ captured_amount: 999, order_lines: [{ ...large, reference: "OTHER", total_amount: 999, unit_price: 999 }] }],
      9116,
    ],
    ["more captured of a line than ordered", [{ captured_amount: 7140, order_lines: [{ ...large, quantity: 2, total_amount: 7140 }] }], 2975 + 595],
    ["an amount the rest does not add up to", [{ captured_amount: 3570, order_lines: [large] }], 6000],
  ])("are not told (the capture goes without lines) after %s", (_what, captures, amount) => {
    expect(uncapturedLines(order, captures as any, amount)).toBeUndefined();
  });

  it("add up to the amount whenever they are told", () => {
    const rest = uncapturedLines(order, [{ captured_amount: 595, order_lines: [shipping] }], 9520);
    expect(rest && sumTotals(rest)).toBe(9520);
  });
});

function taxOf2875(): number {
  return Math.round((2875 * 1900) / 11900);
}

describe("shipping info for Klarna", () => {
  it("one entry per tracking number, with the carrier, within Klarna's limits", () => {
    expect(
      shippingInfoOf({
        company: "DHL Standard",
        tracking: [{ number: "0034 1" }, { number: " " }, { number: "JJD1", url: "https://track.example/JJD1" }],
      }),
    ).toEqual([
      { shipping_company: "DHL Standard", tracking_number: "0034 1" },
      { shipping_company: "DHL Standard", tracking_number: "JJD1", tracking_uri: "https://track.example/JJD1" },
    ]);
    const long = shippingInfoOf({ company: "C".repeat(150), tracking: [{ number: "N".repeat(150), url: "ftp://not-a-web-link" }] })[0];
    expect(long.shipping_company).toHaveLength(100);
    expect(long.tracking_number).toHaveLength(100);
    expect(long.tracking_uri).toBeUndefined();
    expect(shippingInfoOf({ company: "DHL", tracking: [] })).toEqual([]);
  });

  it("a store that names its carrier in metadata still gets the method its option's name says", () => {
    const row = (metadata: Record<string, unknown> | null, name = "DHL Packstation"): ShipmentRow => ({
      fulfillment_id: "ful_1",
      order_id: "order_1",
      provider_id: "manual",
      shipped_at: null,
      tracking: [{ number: "JJD1", url: null }],
      option: { name, metadata },
      skus: [],
    });
    const info = (r: ShipmentRow) => shippingInfoOf(shipmentFromRow(r))[0];
    expect(info(row({ klarna_shipping_company: "DHL" }))).toEqual({
      shipping_company: "DHL",
      shipping_method: "DHLPackstation",
      tracking_number: "JJD1",
    });
    expect(info(row(null))).toEqual({ shipping_company: "DHL Packstation", shipping_method: "DHLPackstation", tracking_number: "JJD1" });
    expect(info(row({ klarna_shipping_company: "DHL", klarna_shipping_method: "PickUpPoint" })).shipping_method).toBe("PickUpPoint");
    expect(info(row({ klarna_shipping_company: "DHL" }, "Standard")).shipping_method).toBeUndefined();
  });

  it("Klarna's shipping_method: the store's own when it is one of Klarna's values, else only what a name says plainly", () => {
    expect(shippingInfoOf({ company: "DHL Standard", method: "Home", tracking: [{ number: "1" }] })[0].shipping_method).toBe("Home");
    expect(shippingInfoOf({ company: "DHL Standard", method: "Teleport", tracking: [{ number: "1" }] })[0].shipping_method).toBeUndefined();
    expect(
      [
        "DHL Packstation",
        "Click & Collect",
        "Pick-up point (PostNord)",
        "Store pickup Berlin",
        "Pick up in store",
        "Home delivery",
        "Pallet freight",
        "Warehouse pick-up",
        "DHL Standard",
        "UPS Ground",
      ].map(shippingMethodFromName),
    ).toEqual([
      "DHLPackstation",
      "ClickCollect",
      "PickUpPoint",
      "PickUpStore",
      "PickUpStore",
      "Home",
      "PalletDelivery",
      "PickUpWarehouse",
      undefined,
      undefined,
    ]);
  });
});
