import { SHIPPING_METHODS, type ShippingInfo, type ShippingMethod } from "./types";

/**
 * Klarna's `shipping_info` for a shipment: what the shopper sees in Klarna's app and emails (carrier,
 * tracking). Limits from order-management.yml `shipping_info`: `shipping_company` and
 * `tracking_number` at most 100 characters, `tracking_uri` at most 1024; `shipping_method` one of the
 * spec's list.
 */

export interface Shipment {
  /** The carrier as the store names it (a shipping option's name, a fulfillment provider). */
  company: string;
  /** Klarna's shipping method when the store tells it; else guessed from `delivery` (or the carrier's name). */
  method?: string | null;
  /** The delivery as the shopper chose it (a shipping option's name: "DHL Packstation"). */
  delivery?: string | null;
  tracking: Array<{ number: string; url?: string | null }>;
}

/**
 * Klarna's `shipping_method` for a delivery named like this, only when the name says it plainly;
 * undefined otherwise (Klarna's field is optional, and a wrong method misleads the shopper).
 */
export function shippingMethodFromName(name: string): ShippingMethod | undefined {
  const n = name.toLowerCase();
  if (/packstation/.test(n)) return "DHLPackstation";
  if (/click\s*(&|and|\+|n)?\s*collect/.test(n)) return "ClickCollect";
  if (/pallet/.test(n)) return "PalletDelivery";
  if (/warehouse/.test(n) && /pick\s*-?\s*up|collect/.test(n)) return "PickUpWarehouse";
  if (/(store|shop|in-store)\s*pick\s*-?\s*up|pick\s*-?\s*up\s*(in|at|from)\s*(the\s*)?(store|shop)/.test(n)) return "PickUpStore";
  if (/pick\s*-?\s*up\s*point|parcel\s*shop|paketshop|service\s*point|parcel\s*locker|locker/.test(n)) return "PickUpPoint";
  if (/home\s*delivery|door/.test(n)) return "Home";
  if (/digital|download|e-?mail delivery/.test(n)) return "Digital";
  return undefined;
}

function asShippingMethod(value: string | null | undefined): ShippingMethod | undefined {
  return value && (SHIPPING_METHODS as readonly string[]).includes(value) ? (value as ShippingMethod) : undefined;
}

/** One `shipping_info` entry per tracking number; none without tracking numbers. */
export function shippingInfoOf(shipment: Shipment): ShippingInfo[] {
  const company = shipment.company.trim().slice(0, 100);
  const method = asShippingMethod(shipment.method) ?? shippingMethodFromName(shipment.delivery || shipment.company);
  const out: ShippingInfo[] = [];
  // In tracking-number order: Medusa lists a shipment's tracking links in no fixed order, and the same
  // shipment must always make the same request (its idempotency key derives from it).
  for (const t of [...shipment.tracking].sort((a, b) => a.number.localeCompare(b.number))) {
    const number = t.number.trim().slice(0, 100);
    if (!number) continue;
    const entry: ShippingInfo = { tracking_number: number };
    if (company) entry.shipping_company = company;
    if (method) entry.shipping_method = method;
    const url = t.url?.trim();
    if (url && url.length <= 1024 && /^https?:\/\//i.test(url)) entry.tracking_uri = url;
    out.push(entry);
  }
  return out;
}
