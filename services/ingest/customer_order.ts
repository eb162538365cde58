/**
 * Where a customer event's details go among those already applied (README,
 * "Stripe webhooks"): the newer Stripe time wins, then the kind (created,
 * updated, a deletion that carries the details); snapshots tied on both are
 * all kept, and the one shown is the last of them: the one whose values no
 * other's `previous_attributes` name as what they were before, and among
 * several such (no `previous_attributes` to tell), the greatest by content.
 * The same snapshots give the same details whatever order they arrived in.
 *
 * A KV value holds at most 64 KiB and each text up to 1,000 characters, so the
 * tied snapshots keep digests of the fields compared, not their texts, and
 * the details only of those that may still be shown (no other names them as
 * before); past `TIED_MAX_BYTES`, the least by content are let go.
 */
import type {
  CustomerDetails,
  CustomerRecord,
  CustomerSnapshot,
  TiedSnapshot,
} from "../../domain/customer.ts";
import { compareOrder } from "./merge.ts";
import { boundStripeText } from "../../domain/stripe_text.ts";
import { sha256Hex } from "../../core/encoding.ts";

const DETAIL_KEYS = ["email", "name", "phone", "description", "created"] as const;
/** at most this many tied snapshots are kept (the greatest by content) */
const MAX_TIED = 20;
/** the tied snapshots' bytes (as JSON) kept beyond the one shown */
const TIED_MAX_BYTES = 16 * 1024;

export function detailsOf(r: CustomerRecord): CustomerDetails {
  return {
    email: r.email,
    name: r.name,
    phone: r.phone,
    description: r.description,
    created: r.created,
  };
}

/** What `previous_attributes` says the details were before, for the fields kept here. */
export function previousDetails(previous: unknown): Partial<CustomerDetails> | null {
  if (!previous || typeof previous !== "object") return null;
  const out: Partial<CustomerDetails> = {};
  for (const k of DETAIL_KEYS) {
    if (k in previous && k !== "created") {
      const v = (previous as Record<string, unknown>)[k];
      out[k] = typeof v === "string" ? boundStripeText(v) : null; // as the details are kept
    }
  }
  return Object.keys(out).length ? out : null;
}

const digest = (v: string | null | undefined) =>
  typeof v === "string" ? sha256Hex(v).slice(0, 24) : null;

/** `s` as kept among the tied (a record written before digests holds full snapshots). */
function asTied(s: TiedSnapshot | CustomerSnapshot): TiedSnapshot {
  if ("h" in s) return s;
  const p = s.p ? Object.fromEntries(Object.entries(s.p).map(([k, v]) => [k, digest(v)])) : null;
  return { h: DETAIL_KEYS.map((k) => digest(s.v[k])), p, v: s.v };
}

const content = (v: CustomerDetails) => JSON.stringify(DETAIL_KEYS.map((k) => v[k]));
const sameValues = (a: TiedSnapshot, b: TiedSnapshot) => a.h.join() === b.h.join();

/** `later` names `earlier`'s values as what they were before it. */
function follows(later: TiedSnapshot, earlier: TiedSnapshot): boolean {
  const p = later.p;
  if (!p || sameValues(later, earlier)) return false;
  return Object.entries(p).every(([k, v]) =>
    earlier.h[DETAIL_KEYS.indexOf(k as keyof CustomerDetails)] === v
  );
}

/** greatest first: those that may be shown by content, then the others by digest */
function byRank(a: TiedSnapshot, b: TiedSnapshot): number {
  if (a.v && b.v) return content(a.v) < content(b.v) ? 1 : content(a.v) > content(b.v) ? -1 : 0;
  if (a.v || b.v) return a.v ? -1 : 1;
  return a.h.join() < b.h.join() ? 1 : a.h.join() > b.h.join() ? -1 : 0;
}

/** The last of snapshots tied on Stripe's time and kind (see the module comment). */
function lastOf(tied: TiedSnapshot[]): TiedSnapshot {
  const unfollowed = tied.filter((s) => s.v && !tied.some((o) => o !== s && follows(o, s)));
  const pool = unfollowed.length ? unfollowed : tied.filter((s) => s.v);
  return pool.reduce((a, b) => (content(b.v!) > content(a.v!) ? b : a));
}

const bytes = (tied: TiedSnapshot[]) => new TextEncoder().encode(JSON.stringify(tied)).length;

/**
 * The details, their place and the tied snapshots after `snap` at `order`,
 * or null when what is shown is newer.
 */
export function placeDetails(
  current: CustomerRecord | null,
  order: number[],
  snap: CustomerSnapshot,
): { details: CustomerDetails; order: number[]; tied: TiedSnapshot[] } | null {
  // a record with no details yet, or a deletion written before the details were kept apart
  const held = current?.order.length && current.order[0] !== Number.MAX_SAFE_INTEGER
    ? current.order
    : null;
  const cmp = held ? compareOrder(order, held) : 1;
  const added = asTied(snap);
  if (cmp < 0) return null;
  if (cmp > 0) return { details: snap.v, order, tied: [added] };
  const before = (current!.tied ?? [{ v: detailsOf(current!), p: null }]).map(asTied);
  const known = before.some((s) =>
    sameValues(s, added) && JSON.stringify(s.p) === JSON.stringify(added.p)
  );
  let tied = (known ? before : [...before, added]).sort(byRank).slice(0, MAX_TIED);
  const last = lastOf(tied);
  // one another names as before is never shown again: its digests are enough
  tied = tied.map((s) =>
    s !== last && s.v && tied.some((o) => o !== s && follows(o, s)) ? { h: s.h, p: s.p } : s
  ).sort(byRank);
  while (tied.length > 1 && bytes(tied) > TIED_MAX_BYTES) {
    const least = tied.findLastIndex((s) => s !== last);
    if (least < 0) break;
    tied.splice(least, 1);
  }
  return { details: last.v!, order, tied };
}
