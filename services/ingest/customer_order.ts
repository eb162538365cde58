/**
 * Where a customer event's details go among those already applied (README,
 * "Stripe webhooks"): the newer Stripe time wins, then the kind (created,
 * updated, a deletion that carries the details); snapshots tied on both are
 * all kept, and the one shown is the last of them: the one whose values no
 * other's `previous_attributes` name as what they were before, and among
 * several such (no `previous_attributes` to tell), the greatest by content.
 * The same snapshots give the same details whatever order they arrived in.
 */
import type { CustomerDetails, CustomerRecord, CustomerSnapshot } from "../../domain/customer.ts";
import { compareOrder } from "./merge.ts";
import { boundStripeText } from "../../domain/stripe_text.ts";

const DETAIL_KEYS = ["email", "name", "phone", "description", "created"] as const;
/** at most this many tied snapshots are kept (the greatest by content) */
const MAX_TIED = 20;

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

const content = (s: CustomerSnapshot) => JSON.stringify(DETAIL_KEYS.map((k) => s.v[k]));

/** `later` names `earlier`'s values as what they were before it. */
function follows(later: CustomerSnapshot, earlier: CustomerSnapshot): boolean {
  const p = later.p;
  if (!p || content(later) === content(earlier)) return false;
  return Object.entries(p).every(([k, v]) => earlier.v[k as keyof CustomerDetails] === v);
}

/** The last of snapshots tied on Stripe's time and kind (see the module comment). */
function lastOf(tied: CustomerSnapshot[]): CustomerSnapshot {
  const unfollowed = tied.filter((s) => !tied.some((o) => o !== s && follows(o, s)));
  const pool = unfollowed.length ? unfollowed : tied;
  return pool.reduce((a, b) => (content(b) > content(a) ? b : a));
}

/**
 * The details, their place and the tied snapshots after `snap` at `order`,
 * or null when what is shown is newer.
 */
export function placeDetails(
  current: CustomerRecord | null,
  order: number[],
  snap: CustomerSnapshot,
): { details: CustomerDetails; order: number[]; tied: CustomerSnapshot[] } | null {
  // a record with no details yet, or a deletion written before the details were kept apart
  const held = current?.order.length && current.order[0] !== Number.MAX_SAFE_INTEGER
    ? current.order
    : null;
  const cmp = held ? compareOrder(order, held) : 1;
  if (cmp < 0) return null;
  if (cmp > 0) return { details: snap.v, order, tied: [snap] };
  const before = current!.tied ?? [{ v: detailsOf(current!), p: null }];
  const known = before.some((s) =>
    content(s) === content(snap) && JSON.stringify(s.p) === JSON.stringify(snap.p)
  );
  const tied = (known ? before : [...before, snap])
    .sort((a, b) => (content(a) < content(b) ? 1 : -1))
    .slice(0, MAX_TIED);
  return { details: lastOf(tied).v, order, tied };
}
