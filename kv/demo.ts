/**
 * Demo mode's state: whether the store is a demo store (one demo mode started on empty and no
 * server with a Stripe key served since), and whether the demo account was seeded already
 * (README, Quick start).
 */
import { keys } from "./keys.ts";
import { isUnreadableValue } from "./layout.ts";

/**
 * What a store is to demo mode: `empty` (nothing but the runtime and layout stamps), `demo`
 * (demo mode made it), `other` (it holds data demo mode did not make: a deployment's store or
 * a copy of one, admins made with the CLI on a store of its own; or a server with a Stripe key
 * served it, whatever demo marks it holds), `unreadable` (values this
 * Deno cannot read; the runtime check says so).
 */
export type DemoStoreKind = "empty" | "demo" | "other" | "unreadable";

const STAMPS = [keys.storeRuntime(), keys.storeLayout()].map((k) => JSON.stringify(k));
/**
 * What a demo server leaves: its mark, and what one before the mark left (the seeding's mark,
 * the webhook secret it generates); never the signing key alone, which the admin CLI once
 * generated too, on any store
 */
const DEMO_MARKS = [keys.demoStore(), keys.demoSeeded(), keys.secret("demo_webhook_secret")];

/** Reads only. */
export async function demoStoreKind(kv: Deno.Kv): Promise<DemoStoreKind> {
  try {
    const [live, ...marks] = await kv.getMany([keys.storeServedLive(), ...DEMO_MARKS]);
    // real money went through it: never the demo's again
    if (live.versionstamp !== null) return "other";
    if (marks.some((m) => m.versionstamp !== null)) return "demo";
    // the two stamps and one more entry, if there is one
    for await (const e of kv.list({ prefix: [] }, { limit: STAMPS.length + 1 })) {
      if (!STAMPS.includes(JSON.stringify(e.key))) return "other";
    }
    return "empty";
  } catch (error) {
    if (isUnreadableValue(error)) return "unreadable";
    throw error;
  }
}

/** Marks the store as a demo store (a demo server starts on it); kept once set. */
export async function markDemoStore(kv: Deno.Kv, at: number): Promise<void> {
  await kv.atomic().check({ key: keys.demoStore(), versionstamp: null })
    .set(keys.demoStore(), { marked_at: at }).commit();
}

/**
 * Marks the store as served with a Stripe key (a server starts on it outside demo mode): from
 * then on it is no demo store. True only for the start that marked it, when it was a demo store.
 */
export async function markStoreServedLive(kv: Deno.Kv, at: number): Promise<boolean> {
  const mark = await kv.get(keys.storeServedLive());
  if (mark.versionstamp !== null) return false;
  const wasDemo = await demoStoreKind(kv) === "demo";
  const res = await kv.atomic().check(mark).set(keys.storeServedLive(), { at }).commit();
  return res.ok && wasDemo;
}

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
