/**
 * Minor units per currency, as REFUND_APPROVAL_THRESHOLD and
 * REFUND_DAILY_CAP_PER_OPERATOR give them (README, Configuration): one number
 * for every currency, or a map such as `default=50000,jpy=75000`.
 */
import { currencyProblem } from "./currencies.ts";

export interface CurrencyAmounts {
  /** for currencies the map does not name; null = none (then 0 applies) */
  default: number | null;
  currencies: Record<string, number>;
}

/** The amount `map` sets for `currency` (a currency it does not name uses `default`, else 0). */
export function amountFor(map: CurrencyAmounts, currency: string): number {
  return map.currencies[currency.toLowerCase()] ?? map.default ?? 0;
}

/** `raw` read as amounts, or what is wrong with it (to follow the variable's name). */
export function parseCurrencyAmounts(raw: string): CurrencyAmounts | { problem: string } {
  if (/^\d+$/.test(raw.trim())) {
    const n = Number(raw.trim());
    if (!Number.isSafeInteger(n)) return { problem: "is too large" };
    return { default: n, currencies: {} };
  }
  const out: CurrencyAmounts = { default: null, currencies: {} };
  for (const part of raw.split(",")) {
    const m = /^\s*(default|[a-z]{3})\s*=\s*(\d+)\s*$/.exec(part.toLowerCase());
    if (!m || !Number.isSafeInteger(Number(m[2]))) {
      return {
        problem: "must be a whole number of minor units, or a list such as default=50000,jpy=75000",
      };
    }
    // a key given twice: the last would silently win, and a typo could lower a control
    if (m[1] === "default" ? out.default !== null : Object.hasOwn(out.currencies, m[1])) {
      return { problem: `names "${m[1]}" twice; give each currency (and default) once` };
    }
    // a misspelt currency would silently fall back to default (README, "Refund approval policy")
    const unknown = m[1] === "default" ? null : currencyProblem(m[1]);
    if (unknown) return { problem: `key ${unknown}` };
    if (m[1] === "default") out.default = Number(m[2]);
    else out.currencies[m[1]] = Number(m[2]);
  }
  return out;
}
