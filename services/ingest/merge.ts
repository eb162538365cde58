/**
 * Merging one Stripe snapshot into a transaction's sync state. A snapshot
 * replaces the stored one only when it is newer in its object's order
 * (services/ingest/snapshots.ts): an old event never moves an object back.
 * An equal snapshot changes nothing, so applying anything twice is a no-op.
 */
import type {
  ChargeSnap,
  DisputeSnap,
  EfwSnap,
  Ordered,
  PiSnap,
  RefundSnap,
  ReviewSnap,
  TxnSync,
} from "../../domain/transaction.ts";
import { refundCounts } from "./snapshots.ts";
import { disputeAmbiguous, DisputeReadBack, placeDisputeRead } from "./dispute_snap.ts";

export type Observation =
  | { kind: "pi"; snap: PiSnap }
  | { kind: "charge"; snap: ChargeSnap }
  | { kind: "refund"; snap: RefundSnap; raw: unknown }
  | {
    kind: "dispute";
    snap: DisputeSnap;
    raw: unknown;
    /** read back from Stripe after this snapshot was stored (dispute_snap.ts) */
    readAfter?: DisputeSnap | null;
  }
  | { kind: "efw"; snap: EfwSnap }
  | { kind: "review"; snap: ReviewSnap };

/** A snapshot that moved: `before` null when first seen. */
export interface Change<T = unknown> {
  kind: Observation["kind"];
  before: T | null;
  after: T;
  raw: unknown;
}

/** Lexicographic comparison of two orders: > 0 when `a` is newer. */
export function compareOrder(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function isNewer(a: Ordered, b: Ordered): boolean {
  return compareOrder(a.order, b.order) > 0;
}

/** What a snapshot says (where it sits, and when a read was made, are not part of it). */
function content(a: Ordered): string {
  const { order: _a, read_at: _r, ...rest } = a as Ordered & { read_at?: number };
  return JSON.stringify(rest);
}

function sameContent(a: Ordered, b: Ordered): boolean {
  return content(a) === content(b);
}

/**
 * The snapshot to keep, or null when `current` stays. Snapshots are ordered
 * totally: by their order (Stripe's time and the object's status lattice,
 * services/ingest/snapshots.ts), then, on an equal order, by their content
 * (the greater encoding wins), never by arrival: two events of one second
 * end in the same snapshot whichever came last. Equal content is never a
 * change, so a re-applied event or a second backfill writes nothing.
 */
function pick<T extends Ordered>(current: T | undefined | null, incoming: T): T | null {
  if (!current) return incoming;
  const d = compareOrder(incoming.order, current.order);
  if (d < 0) return null;
  if (d > 0) return sameContent(incoming, current) ? null : incoming;
  return content(incoming) > content(current) ? incoming : null;
}

function pickRefund(current: RefundSnap | undefined, incoming: RefundSnap): RefundSnap | null {
  const chosen = pick(current, incoming) ?? current!;
  // metadata.refund_id may be added by an update; once known it is never lost.
  const merged: RefundSnap = {
    ...chosen,
    refund_id: incoming.refund_id ?? current?.refund_id ?? null,
  };
  // A refund seen accepted (pending) and failed posts its entry and the reversal whichever
  // snapshot came first (README, "Transactions and money edges"): the older one is remembered.
  delete merged.accepted;
  const seen = [incoming, current].some((s) => s && (s.accepted || refundCounts(s.status)));
  if (seen && !refundCounts(chosen.status)) merged.accepted = true;
  return current && sameContent(merged, current) ? null : merged;
}

/**
 * `strict`: a snapshot only Stripe can place against the stored one throws
 * `DisputeReadBack` (services/ingest/dispute_snap.ts); a read-back made after
 * the stored snapshot (`readAfter`, still the one stored) is placed after it.
 */
function pickDispute(
  current: DisputeSnap | undefined,
  obs: Extract<Observation, { kind: "dispute" }>,
  strict: boolean,
): DisputeSnap | null {
  let incoming = obs.snap;
  const readAfter = obs.readAfter;
  if (readAfter !== undefined && sameSnap(current ?? null, readAfter)) {
    incoming = placeDisputeRead(incoming, current ?? null);
  } else if (strict && disputeAmbiguous(current ?? null, incoming)) {
    throw new DisputeReadBack(incoming.id, current!);
  }
  const chosen = pick(current, incoming) ?? current!;
  // Funds moves only accumulate, whichever event shows them first.
  const merged = {
    ...chosen,
    withdrawn: Math.max(incoming.withdrawn, current?.withdrawn ?? 0),
    reinstated: Math.max(incoming.reinstated, current?.reinstated ?? 0),
  };
  return current && sameContent(merged, current) ? null : merged;
}

function sameSnap(a: Ordered | null, b: Ordered | null): boolean {
  if (!a || !b) return a === b;
  return compareOrder(a.order, b.order) === 0 && sameContent(a, b);
}

const MAX_CHARGES = 50;
const MAX_FORGOTTEN = 500;

/**
 * Merges `obs` into `sync` (mutating it); returns what changed, or null.
 * `strict`: throws `DisputeReadBack` for a dispute only Stripe can place.
 */
export function mergeObservation(sync: TxnSync, obs: Observation, strict = false): Change | null {
  switch (obs.kind) {
    case "pi": {
      const next = pick(sync.pi, obs.snap);
      if (!next) return null;
      const before = sync.pi;
      sync.pi = next;
      return { kind: "pi", before, after: next, raw: null };
    }
    case "charge": {
      if (sync.forgotten.includes(obs.snap.id)) return null;
      const before = sync.charges[obs.snap.id] ?? null;
      const next = pick(before, obs.snap);
      if (!next) return null;
      sync.charges[next.id] = next;
      boundCharges(sync);
      return { kind: "charge", before, after: next, raw: null };
    }
    case "refund": {
      const before = sync.refunds[obs.snap.id] ?? null;
      const next = pickRefund(before ?? undefined, obs.snap);
      if (!next) return null;
      sync.refunds[next.id] = next;
      return { kind: "refund", before, after: next, raw: obs.raw };
    }
    case "dispute": {
      const before = sync.disputes[obs.snap.id] ?? null;
      const next = pickDispute(before ?? undefined, obs, strict);
      if (!next) return null;
      sync.disputes[next.id] = next;
      return { kind: "dispute", before, after: next, raw: obs.raw };
    }
    case "efw": {
      const before = sync.efws[obs.snap.id] ?? null;
      const next = pick(before, obs.snap);
      if (!next) return null;
      sync.efws[next.id] = next;
      return { kind: "efw", before, after: next, raw: null };
    }
    case "review": {
      const before = sync.reviews[obs.snap.id] ?? null;
      const next = pick(before, obs.snap);
      if (!next) return null;
      sync.reviews[next.id] = next;
      return { kind: "review", before, after: next, raw: null };
    }
  }
}

/**
 * A PaymentIntent hammered with declined attempts could outgrow a KV value;
 * the oldest failed attempts are dropped (and remembered, so a late event
 * about one does not bring it back and count it twice).
 */
function boundCharges(sync: TxnSync): void {
  const all = Object.values(sync.charges);
  if (all.length <= MAX_CHARGES) return;
  const oldestFailed = all
    .filter((c) => c.status === "failed")
    .sort((a, b) => a.created - b.created || a.id.localeCompare(b.id))[0];
  if (!oldestFailed) return;
  delete sync.charges[oldestFailed.id];
  sync.forgotten = [...sync.forgotten, oldestFailed.id].slice(-MAX_FORGOTTEN);
}

/**
 * Whether only Stripe can tell which of the stored PaymentIntent snapshot and
 * an incoming one is newer: a decline and an attempt in flight in the same
 * second; or a stored read from the API (`read_at`) placed after what was seen
 * before it, and an event of that second or later saying something else,
 * which may be newer than the read (README "Transactions and money edges").
 */
export function piAmbiguous(current: PiSnap | null, incoming: PiSnap): boolean {
  if (!current) return false;
  const [ct, cat] = current.order;
  const [it, iat] = incoming.order;
  if (ct === 1 || it === 1) return false;
  if (
    current.read_at !== undefined && iat >= current.read_at &&
    compareOrder(incoming.order, current.order) < 0 && content(incoming) !== content(current)
  ) return true;
  if (current.status === incoming.status || cat !== iat) return false;
  const inFlight = (s: PiSnap) =>
    s.status === "requires_action" || s.status === "processing" ||
    s.status === "requires_capture";
  const failed = (s: PiSnap) => s.status === "requires_payment_method" && s.error !== null;
  // A decline and an attempt in flight within one second: the decline may end that
  // attempt (comes last) or precede a retry (comes first). Only Stripe knows.
  return (failed(current) && inFlight(incoming)) || (failed(incoming) && inFlight(current));
}

/** The Stripe time a stored PaymentIntent snapshot is known to be from (a read: its `read_at`). */
export function piSeenAt(snap: Pick<PiSnap, "order" | "read_at">): number {
  return snap.read_at ?? snap.order[1];
}

/**
 * Where a PaymentIntent read from the API goes (README "Transactions and money
 * edges"). Stripe answered after everything seen before the read (`stored`,
 * and the event that asked for the read, `eventAt`), so it is placed after
 * them, at Stripe's time of the answer when known (`stripeAt`, else the
 * service's clock). `readAt` is the earliest Stripe time it can be from: an
 * event of that second or later may be newer than the read even when the read
 * is placed after it (merge.ts `piAmbiguous` asks Stripe then).
 */
export function placeRead(
  stripeAt: number | null,
  nowSec: number,
  stored: Pick<PiSnap, "order" | "read_at"> | null | undefined,
  eventAt?: number,
): { at: number; readAt: number } {
  const positions = [stored?.order[1], eventAt].filter((t): t is number => t !== undefined);
  const times = [stored ? piSeenAt(stored) : undefined, eventAt]
    .filter((t): t is number => t !== undefined);
  const at = Math.max(stripeAt ?? nowSec, positions.length ? Math.max(...positions) + 1 : 0);
  return { at, readAt: stripeAt ?? (times.length ? Math.max(...times) : nowSec) };
}

export type { ChargeSnap, DisputeSnap, EfwSnap, PiSnap, RefundSnap, ReviewSnap };
