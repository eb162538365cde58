/** Demo mode's one piece of state: whether the demo account was seeded already. */
import { keys } from "./keys.ts";

/** Claims the seeding (first caller wins); false when it was seeded or claimed before. */
export async function claimDemoSeeding(kv: Deno.Kv, at: number): Promise<boolean> {
  const res = await kv.atomic().check({ key: keys.demoSeeded(), versionstamp: null })
    .set(keys.demoSeeded(), { claimed_at: at, done_at: null }).commit();
  return res.ok;
}

export async function markDemoSeeded(kv: Deno.Kv, at: number): Promise<void> {
  const current = await kv.get<{ claimed_at: number }>(keys.demoSeeded());
  await kv.set(keys.demoSeeded(), { claimed_at: current.value?.claimed_at ?? at, done_at: at });
}

/** Undo a claim whose seeding failed, so the next start tries again. */
export async function releaseDemoSeeding(kv: Deno.Kv): Promise<void> {
  await kv.delete(keys.demoSeeded());
}
