/**
 * What the applier reads back: the transaction an object belongs to, and from
 * Stripe what one event cannot settle on its own (a PaymentIntent in two
 * states within one second, a `charge.refunded` naming refunds not seen yet).
 * A PaymentIntent read from the API is placed by Stripe's time of the answer,
 * after everything seen before the read (merge.ts `placeRead`).
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import { findTransactionId, readTransactionState } from "../../kv/transactions.ts";
import type { TxnSync } from "../../domain/transaction.ts";
import { piAmbiguous, placeRead } from "./merge.ts";
import { piSnap, refundCounts, refundSnap } from "./snapshots.ts";
import { stripeAnsweredAt } from "../stripe/mod.ts";
import { defer } from "./commit.ts";
import type { TxnWork } from "./work.ts";

/** What reading back needs: the store's reads, the gateway, and our clock's now in seconds. */
export interface ReadParts {
  kv: Deno.Kv;
  deps: Pick<Deps, "stripe">;
  nowSec: () => number;
}

/** A PaymentIntent read from the API (backfill), in place of the work's first observation. */
export async function placePiRead(
  p: ReadParts,
  work: TxnWork,
  read: { pi: Stripe.PaymentIntent; stripeAt: number | null },
): Promise<void> {
  const stored = (await peek(p, work.refs))?.sync.value?.pi;
  const placed = placeRead(read.stripeAt, p.nowSec(), stored);
  work.observations[0] = { kind: "pi", snap: piSnap(read.pi, placed.at, placed.readAt) };
}

/** The transaction an object belongs to, by its PaymentIntent or its charge. */
export async function peek(p: Pick<ReadParts, "kv">, refs: TxnWork["refs"]) {
  const { kv } = p;
  for (const id of [refs.pi, refs.charge]) {
    if (!id) continue;
    const found = await findTransactionId(kv, id);
    if (found.value) return await readTransactionState(kv, found.value);
  }
  return null;
}

/** Reads back from Stripe what one event cannot settle on its own. */
export async function resolveAmbiguity(
  p: ReadParts,
  work: TxnWork,
  sync: TxnSync | null,
  at: number,
  eventType: string | null,
  atIntake: boolean,
): Promise<void> {
  const { deps, nowSec } = p;
  const readAt = Math.max(nowSec(), at + 1);
  const first = work.observations[0];
  if (first.kind === "pi" && piAmbiguous(sync?.pi ?? null, first.snap)) {
    if (atIntake) defer(`${first.snap.id} needs a read-back from Stripe`);
    const fresh = await deps.stripe.call(
      (s) => s.paymentIntents.retrieve(first.snap.id),
      { priority: "background", label: "payment_intents.retrieve" },
    );
    const placed = placeRead(stripeAnsweredAt(fresh), nowSec(), sync?.pi, at);
    work.observations[0] = { kind: "pi", snap: piSnap(fresh, placed.at, placed.readAt) };
  }
  if (first.kind === "charge" && eventType === "charge.refunded") {
    const chargeId = first.snap.id;
    const known = new Map<string, number>();
    for (const r of Object.values(sync?.refunds ?? {})) {
      if (r.charge === chargeId && refundCounts(r.status)) known.set(r.id, r.amount);
    }
    for (const o of work.observations) {
      if (o.kind === "refund" && refundCounts(o.snap.status)) known.set(o.snap.id, o.snap.amount);
    }
    const knownTotal = [...known.values()].reduce((n, a) => n + a, 0);
    // Stripe counts a released authorization (the part a partial capture left, or all
    // of an uncaptured charge) in the charge's amount_refunded, with no refund object.
    const c = first.snap;
    const released = c.captured ? c.amount - c.amount_captured : c.amount_refunded;
    if (c.amount_refunded <= knownTotal + released) return;
    // Refunds we have not seen yet: their events may still come, but may never
    // (an endpoint subscribed to charge.refunded only), so ask Stripe.
    if (atIntake) defer(`${chargeId} needs its refunds read back from Stripe`);
    const list = await deps.stripe.call(
      (s) => s.refunds.list({ charge: chargeId, limit: 100 }),
      { priority: "background", label: "refunds.list" },
    );
    for (const re of list.data) {
      work.observations.push({ kind: "refund", snap: refundSnap(re, readAt), raw: re });
    }
  }
}
