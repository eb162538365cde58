/**
 * What a person might paste into a note by mistake (README, "Security"): a card number, a
 * Stripe key, a webhook signing secret, one of this service's tokens and an email, and the
 * checks that a record holds none of them in clear but does hold the note, masked.
 */
import assert from "node:assert/strict";

/** A note holding each secret README "Security" says is masked. */
export const TYPED = "card 5555 5555 5555 4444 key sk_live_51TypedKeyAbcdefghijklmnop " +
  "hook whsec_TypedSecretAbcdefghijklmnop token pot_TypedTokenAbcdefghijklmnopqrstuvwxyz012345 " +
  "mail typed.person@example.org";

/** Any of them as typed (the card number also without its spaces). */
const IN_CLEAR =
  /5555 5555 5555 4444|5555555555554444|TypedKey|TypedSecret|TypedToken|typed\.person/;

/** What the note becomes: each secret masked, the words around them kept. */
const MASKED = ["****4444", "sk_live_****", "whsec_****", "pot_****", "t***@example.org"];

/** `value` (a record as the API shows it) holds the note masked, and no secret in clear. */
export function assertMasked(value: unknown, what: string): void {
  const text = JSON.stringify(value);
  assert.doesNotMatch(text, IN_CLEAR, `${what} holds a typed secret in clear: ${text}`);
  for (const m of MASKED) assert.ok(text.includes(m), `${what} should hold ${m}: ${text}`);
}

/** No value in `kv` holds a typed secret in clear (records, indexes, audit, idempotency). */
export async function assertKvMasked(kv: Deno.Kv, what: string): Promise<void> {
  const decoder = new TextDecoder();
  let seen = 0;
  for await (const entry of kv.list({ prefix: [] })) {
    const text = JSON.stringify(entry.value, (_k, v) => {
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Uint8Array) return decoder.decode(v);
      return v;
    }) ?? "";
    if (text.includes("****4444")) seen++;
    assert.doesNotMatch(
      text,
      IN_CLEAR,
      `${what}: KV ${JSON.stringify(entry.key.map(String))} holds a typed secret in clear`,
    );
  }
  assert.ok(seen > 0, `${what}: no KV value holds the masked note (was it stored?)`);
}
