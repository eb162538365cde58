/**
 * What is wrong with a secret setting, said by the character and its place, never by the
 * value (README, Configuration): a key copied with a space, or read from a file that ends in
 * a line break, is told as that, with the fix, not as a key of the wrong kind.
 */

/** The Stripe API key prefixes STRIPE_SECRET_KEY takes (secret and restricted keys). */
export const STRIPE_KEY_PREFIXES = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"] as const;

const STRIPE_KEY_CHAR = /^[A-Za-z0-9_]$/;
const WHITESPACE = /^\s$/;

/**
 * The first character of `value` that `allowed` refuses, as `" " (U+0020) at character 32`
 * (counted from 1), and where whitespace sits: at the end (a secret file's last line break, a
 * space copied with the value), at the start, or inside; null when every character is allowed.
 */
export function strayCharacter(
  value: string,
  allowed: (c: string, at: number, chars: string[]) => boolean,
): { text: string; whitespace: "end" | "start" | "inside" | null } | null {
  const chars = [...value];
  const at = chars.findIndex((c, i) => !allowed(c, i, chars));
  if (at < 0) return null;
  const c = chars[at];
  const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
  const text = `${JSON.stringify(c)} (U+${code}) at character ${at + 1} of ${chars.length}`;
  if (!WHITESPACE.test(c)) return { text, whitespace: null };
  const whitespace = chars.slice(at).every((x) => WHITESPACE.test(x))
    ? "end"
    : chars.slice(0, at).every((x) => WHITESPACE.test(x))
    ? "start"
    : "inside";
  return { text, whitespace };
}

/** What whitespace found where `where` says (`strayCharacter`) likely is, and the fix. */
export function whitespaceFix(name: string, where: "end" | "start" | "inside"): string {
  if (where === "end") {
    return "it ends in whitespace (a line break a secret file or `echo` added, or a space " +
      `copied with it): set ${name} to the value alone (\`printf %s\`, not \`echo\`, writes a ` +
      "file without one)";
  }
  if (where === "start") {
    return `it starts with whitespace copied with it: set ${name} to the value alone`;
  }
  return "it holds a space or line break inside (two values run together, or one copied " +
    `across lines): set ${name} to one value, copied whole`;
}

/** How to make a random secret (README, Configuration). */
export const MAKE_SECRET = "make one with `openssl rand -base64 32`";

/** Why `key` is no Stripe secret or restricted key, with the fix; null when it is one. */
export function stripeKeyProblem(key: string): string | null {
  const name = "STRIPE_SECRET_KEY";
  const copy = "copy the key again from the Stripe Dashboard (Developers, API keys)";
  const stray = strayCharacter(key, (c) => STRIPE_KEY_CHAR.test(c));
  const prefix = STRIPE_KEY_PREFIXES.find((p) => key.trim().startsWith(p));
  if (stray?.whitespace && prefix) {
    return `${name} has ${stray.text}, which no Stripe API key holds; ` +
      whitespaceFix(name, stray.whitespace);
  }
  if (!prefix) {
    const kind = key.startsWith("pk_")
      ? " (a pk_ key is a publishable key, which cannot call the API)"
      : key.startsWith("whsec_")
      ? " (a whsec_ value is a webhook signing secret: it goes in STRIPE_WEBHOOK_SECRETS)"
      : "";
    return `${name} must start with ${STRIPE_KEY_PREFIXES.slice(0, -1).join(", ")} or ` +
      `${STRIPE_KEY_PREFIXES.at(-1)}${kind}: ${copy}`;
  }
  if (stray) {
    return `${name} has ${stray.text}, which no Stripe API key holds (after ${prefix}: ` +
      `letters, digits and _): ${copy}`;
  }
  if (key === prefix) return `${name} is ${prefix} with nothing after it: ${copy}`;
  return null;
}

/** A Bearer token's characters (RFC 6750 `b64token`), `=` aside: it may only end one. */
const B64TOKEN_CHAR = /^[A-Za-z0-9\-._~+/]$/;

/**
 * Why `value` is no METRICS_TOKEN, null when it is one: at least 16 characters, and only what
 * a Bearer token carries (RFC 6750 `b64token`: letters, digits and `- . _ ~ + /`, then `=` at
 * the end only), so a scraper can send it as set; README, Configuration.
 */
export function metricsTokenProblem(value: string): string | null {
  const name = "METRICS_TOKEN";
  if (value.length < 16) return `${name} must be at least 16 characters; ${MAKE_SECRET}`;
  const stray = strayCharacter(
    value,
    (c, at, chars) =>
      B64TOKEN_CHAR.test(c) || (c === "=" && chars.slice(at).every((x) => x === "=")),
  );
  if (!stray) return null;
  return `${name} has ${stray.text}, which a bearer token cannot carry (letters, digits and ` +
    "- . _ ~ + /, then = at the end only), so no scrape could send it; " +
    (stray.whitespace ? whitespaceFix(name, stray.whitespace) : MAKE_SECRET);
}

/** Why `value` is no ALERT_WEBHOOK_SECRET (at least 16 characters), null when it is one. */
export function alertWebhookSecretProblem(value: string): string | null {
  if (value.length >= 16) return null;
  return `ALERT_WEBHOOK_SECRET must be at least 16 characters (it has ${value.length}); ` +
    `${MAKE_SECRET} and give the receiver the same value to check X-Payops-Signature`;
}
