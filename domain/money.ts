/**
 * Minor units per currency, as Stripe counts amounts (integers in the
 * currency's smallest unit). Zero-decimal currencies (JPY, KRW, …) have no
 * minor unit: 500 JPY is `500`. Three-decimal currencies (KWD, BHD, …) carry
 * three digits, but Stripe only moves amounts that round to two: the last
 * digit must be 0 (`1230`, not `1234`). Checked before any Stripe call, so a
 * request Stripe would refuse is refused here, naming the field.
 */

/** Stripe's zero-decimal currencies. */
const ZERO_DECIMAL = new Set([
  "bif",
  "clp",
  "djf",
  "gnf",
  "jpy",
  "kmf",
  "krw",
  "mga",
  "pyg",
  "rwf",
  "ugx",
  "vnd",
  "vuv",
  "xaf",
  "xof",
  "xpf",
]);

/** Stripe's three-decimal currencies. */
const THREE_DECIMAL = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

/** Digits after the decimal point in an amount of `currency` (lowercase or not). */
export function minorUnits(currency: string): 0 | 2 | 3 {
  const c = currency.toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

/** Why Stripe would refuse `amount` of `currency`, or null when it is well formed. */
export function minorUnitProblem(amount: number, currency: string): string | null {
  if (!Number.isSafeInteger(amount)) return "must be a whole number of minor units";
  if (minorUnits(currency) === 3 && amount % 10 !== 0) {
    const down = amount - (amount % 10);
    return `${currency.toUpperCase()} amounts must end in 0 (Stripe accepts ${down} or ${
      down + 10
    }, not ${amount})`;
  }
  return null;
}

/**
 * An amount of minor units as a person reads it: in the currency's major
 * unit with its decimals, thousands grouped, and its code in capitals
 * (`6400, "usd"` -> `"64.00 USD"`, `100000, "jpy"` -> `"100,000 JPY"`,
 * `1230, "kwd"` -> `"1.230 KWD"`). For texts (alerts, summaries); the API's
 * amount fields stay in minor units.
 */
export function formatMoney(amount: number, currency: string): string {
  const digits = minorUnits(currency);
  const sign = amount < 0 ? "-" : "";
  const text = String(Math.abs(Math.trunc(amount))).padStart(digits + 1, "0");
  const whole = text.slice(0, text.length - digits).replace(/\B(?=(\d{3})+$)/g, ",");
  const fraction = digits ? `.${text.slice(text.length - digits)}` : "";
  return `${sign}${whole}${fraction} ${currency.toUpperCase()}`;
}
