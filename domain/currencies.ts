/**
 * The currencies Stripe charges in (its presentment currencies, as Stripe's
 * "Supported currencies" documentation lists them), lowercase ISO 4217: what
 * a currency map in the configuration (README, "Refund approval policy") and a
 * refund's `currency` may name. The zero- and three-decimal ones are among them
 * (domain/money.ts). A code missing here that Stripe has added is one line.
 */
export const STRIPE_CURRENCIES: ReadonlySet<string> = new Set([
  ...["usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd"],
  ...["bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad"],
  ...["cdf", "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp"],
  ...["etb", "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl"],
  ...["htg", "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf"],
  ...["krw", "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd"],
  ...["mmk", "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok"],
  ...["npr", "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd"],
  ...["rub", "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl"],
  ...["thb", "tjs", "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "uyu", "uzs", "vnd"],
  ...["vuv", "wst", "xaf", "xcd", "xcg", "xof", "xpf", "yer", "zar", "zmw"],
  // Codes Stripe has listed before or beside their successors (a redenomination, a new code):
  // kept, since refusing a currency a payment was made in would block its refund, while one more
  // code here only lets a map name a currency no payment uses.
  ...["hrk", "mro", "mru", "sll", "stn", "svc", "vef", "ves"],
]);

/** Whether Stripe charges in `code` (any case). */
export function isStripeCurrency(code: string): boolean {
  return STRIPE_CURRENCIES.has(code.toLowerCase());
}

/** Whether `a` becomes `b` by one substitution, or by swapping two of its letters. */
function oneSlipApart(a: string, b: string): boolean {
  const differ = [...a].flatMap((c, i) => c === b[i] ? [] : [i]);
  if (differ.length === 1) return true;
  return differ.length === 2 && a[differ[0]] === b[differ[1]] && a[differ[1]] === b[differ[0]];
}

/**
 * The currencies `code` is likely a slip for (a letter wrong, or two swapped: `ypj` -> `jpy`),
 * the common ones first; empty when none is close.
 */
export function likelyCurrencies(code: string): string[] {
  const c = code.toLowerCase();
  if (c.length !== 3) return [];
  const common = ["usd", "eur", "gbp", "jpy", "cad", "aud", "chf"];
  const close = [...STRIPE_CURRENCIES].filter((k) => oneSlipApart(c, k));
  return close.sort((a, b) => rank(a) - rank(b)).slice(0, 3);
  function rank(k: string): number {
    const i = common.indexOf(k);
    return i < 0 ? common.length : i;
  }
}

/**
 * Why `code` is not a currency a refund or a currency map may name, or null when it is one:
 * `"ypj" is not a currency Stripe charges in (did you mean jpy?)`.
 */
export function currencyProblem(code: string): string | null {
  if (isStripeCurrency(code)) return null;
  const likely = likelyCurrencies(code);
  const hint = likely.length ? `did you mean ${likely.join(" or ")}?` : "such as usd or eur";
  return `"${code}" is not a currency Stripe charges in (${hint}); give a lowercase ISO 4217 ` +
    "code Stripe supports";
}
