/**
 * Secrets the service generates for itself (demo mode): made once, kept in
 * KV, the same for every isolate. The first writer wins (`versionstamp: null`
 * check); everyone else reads the winner's value.
 */
import { keys } from "./keys.ts";

export async function loadOrCreateSecret(kv: Deno.Kv, name: string, bytes = 32): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await kv.get<string>(keys.secret(name));
    if (existing.value !== null) return existing.value;
    const fresh = Array.from(
      crypto.getRandomValues(new Uint8Array(bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const res = await kv.atomic().check({ key: keys.secret(name), versionstamp: null })
      .set(keys.secret(name), fresh).commit();
    if (res.ok) return fresh;
  }
  throw new Error(`could not create or read the generated secret "${name}" in KV`);
}
