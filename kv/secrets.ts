/**
 * Secrets the service generates for itself (demo mode): made once, kept in
 * KV, the same for every isolate. The first writer wins (the check on what
 * was read); everyone else reads the winner's value.
 */
import { keys } from "./keys.ts";
import { commitChecked } from "./atomic.ts";

export async function loadOrCreateSecret(kv: Deno.Kv, name: string, bytes = 32): Promise<string> {
  const { value } = await commitChecked(kv, async (op) => {
    const existing = await kv.get<string>(keys.secret(name));
    if (existing.value !== null) return existing.value;
    const fresh = Array.from(
      crypto.getRandomValues(new Uint8Array(bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    op.check(existing).set(keys.secret(name), fresh);
    return fresh;
  }, { attempts: 5, what: `the generated secret "${name}"` });
  return value;
}
