/**
 * Amounts in minor units as an admin reads them: `formatMoney(2618, "eur")` → "26.18 EUR". The number
 * of decimals is the currency's own (ISO 4217 through Intl: JPY has none, KWD three).
 */
export function formatMoney(amount: number, currency: string | null | undefined): string {
  const code = String(currency ?? "").toUpperCase();
  let digits = 2;
  if (/^[A-Z]{3}$/.test(code)) {
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
  }
  const value = (amount / 10 ** digits).toFixed(digits);
  return code ? `${value} ${code}` : value;
}
