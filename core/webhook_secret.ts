/**
 * The form of a Stripe webhook signing secret (README, Configuration: STRIPE_WEBHOOK_SECRETS):
 * `whsec_` and the secret Stripe shows, 32 characters from the Dashboard (64 hex digits from
 * the Stripe CLI), of letters, digits, `+`, `/` and `=`. What is wrong with an entry is said
 * by its place in the list, never by its value: the value is a secret.
 */

const PREFIX = "whsec_";
/** fewer characters after `whsec_` than this: the secret was cut off when it was copied */
const MIN_SECRET_CHARS = 24;
const SECRET_CHAR = /^[A-Za-z0-9+/=]$/;

/** Why entry `index` (from 0) of `count` is no signing secret, with the fix; null: it is one. */
export function webhookSecretProblem(entry: string, index: number, count: number): string | null {
  const which = `STRIPE_WEBHOOK_SECRETS entry ${index + 1} of ${count}`;
  const copy =
    "copy the whole signing secret from the endpoint's page at Stripe (Reveal, then copy)";
  if (entry === "" && count === 1) {
    return "STRIPE_WEBHOOK_SECRETS is set but empty: set it to the endpoint's signing secret " +
      "(whsec_…) from Stripe";
  }
  if (entry === "") {
    return `${which} is empty: remove the extra comma (entries are separated by single commas)`;
  }
  if (!entry.startsWith(PREFIX)) {
    return `${which} does not start with whsec_: copy the endpoint's signing secret (whsec_…) ` +
      "from Stripe, not another key";
  }
  const secret = entry.slice(PREFIX.length);
  if (secret === "") return `${which} is whsec_ with nothing after it: ${copy}`;
  const chars = [...secret];
  const bad = chars.findIndex((c) => !SECRET_CHAR.test(c));
  if (bad >= 0) {
    const c = chars[bad];
    const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return `${which} has ${JSON.stringify(c)} (U+${code}) at character ` +
      `${PREFIX.length + bad + 1}, which no Stripe signing secret holds (after whsec_: letters, ` +
      `digits, +, / and =): ${copy}`;
  }
  if (chars.length < MIN_SECRET_CHARS) {
    return `${which} looks cut off (a signing secret is whsec_ and 32 characters): ${copy}`;
  }
  return null;
}
