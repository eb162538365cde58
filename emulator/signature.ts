const encoder = new TextEncoder();

function toHex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A `Stripe-Signature` header value exactly as Stripe computes it: HMAC-SHA256 keyed by the
 * endpoint secret (the whole `whsec_…` string, UTF-8) over `${t}.${payload}`, hex encoded.
 */
export async function signPayload(
  payload: string,
  secret: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestampSec}.${payload}`));
  return `t=${timestampSec},v1=${toHex(mac)}`;
}
