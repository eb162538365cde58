// Stripe ids are a type prefix plus an opaque random suffix; tests and the service
// only rely on the prefix, so a random base62 suffix of Stripe's usual length is enough.
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function randomToken(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomToken(24)}`;
}

/** Deterministic short hash, so a card number always maps to the same fingerprint (as at Stripe). */
export function stableToken(input: string, length: number): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  let out = "";
  for (let round = 0; out.length < length; round++) {
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i) + round;
      h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ (c + h1), 0x5bd1e995) >>> 0;
    }
    out += ALPHABET[h1 % 62] + ALPHABET[h2 % 62] + ALPHABET[((h1 ^ h2) >>> 0) % 62];
  }
  return out.slice(0, length);
}
