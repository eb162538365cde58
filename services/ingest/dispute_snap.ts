/**
 * A Stripe dispute -> its snapshot, and where the snapshot sits in the
 * dispute's history (`order`, compared element by element: services/ingest/
 * merge.ts). Stripe's dispute carries no updated-at and its events only a
 * `created` in whole seconds, so within one second and one status the order
 * cannot tell two snapshots apart: an evidence stage and the next one, or a
 * stage and a deadline Stripe moved. Only Stripe can then; `disputeAmbiguous`
 * names those cases and the dispute is read back (services/ingest/
 * dispute_read_back.ts), the read placed after what was stored before it
 * (README "Dispute workbench": what Stripe owns stays Stripe's own word).
 */
import type Stripe from "stripe";
import type { DisputeSnap } from "../../domain/transaction.ts";
import { boundStripeText } from "../../domain/stripe_text.ts";

/** Stripe fields that may come expanded (an object) or not (an id). */
function idOf(value: string | { id: string } | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === "string" ? value : value.id;
}

/** Inquiries (warning_*) may escalate to a chargeback; won/lost/prevented are final. */
const DISPUTE_RANK: Record<string, number> = {
  warning_needs_response: 0,
  warning_under_review: 1,
  warning_closed: 2,
  needs_response: 3,
  under_review: 4,
  won: 5,
  lost: 5,
  prevented: 5,
  // an appeal follows a decision; its own decision comes after it (see `disputeRank`)
  appeal_needs_response: 6,
  appeal_under_review: 7,
};

/** A decision after an appeal (a second submission) ranks above the appeal statuses. */
function disputeRank(status: string, submissions: number): number {
  const rank = DISPUTE_RANK[status] ?? 0;
  return rank === 5 && submissions >= 2 ? 8 : rank;
}

/** What a dispute took from the payment: withdrawn net of reinstated (an inquiry takes nothing). */
export function disputeTook(d: { withdrawn: number; reinstated: number }): number {
  return Math.max(0, d.withdrawn - d.reinstated);
}

/**
 * `at`: the event's `created`, or for a dispute read from the API (a stage,
 * submit or close answer, a sync, a read-back) Stripe's time of the answer,
 * which `readAt` marks it as. Within one second and one status, more
 * submissions and more balance transactions (both only ever grow) are later.
 */
export function disputeSnap(
  du: Stripe.Dispute,
  at: number,
  eventType: string | null,
  readAt?: number,
): DisputeSnap {
  const bts = du.balance_transactions ?? [];
  // The balance transactions are append-only and in the settlement currency, so they
  // say *whether* funds moved; the amount is the dispute's, in the payment's currency.
  const withdrawn = bts.some((b) => b.amount < 0) || eventType === "charge.dispute.funds_withdrawn";
  const reinstated = bts.some((b) => b.amount > 0) ||
    eventType === "charge.dispute.funds_reinstated";
  const details = du.evidence_details;
  const submissions = details?.submission_count ?? 0;
  return {
    id: du.id,
    charge: idOf(du.charge),
    amount: du.amount,
    currency: du.currency,
    status: du.status,
    reason: boundStripeText(du.reason),
    created: du.created,
    evidence_due_by: details?.due_by ?? null,
    submission_count: submissions,
    withdrawn: withdrawn ? du.amount : 0,
    reinstated: reinstated ? du.amount : 0,
    is_charge_refundable: du.is_charge_refundable ?? true,
    has_evidence: details?.has_evidence ?? false,
    past_due: details?.past_due ?? false,
    submission_method: boundStripeText(
      (details as { submission_method?: string } | undefined)?.submission_method,
    ),
    fee: bts.reduce((n, b) => n + (b.fee ?? 0), 0),
    order: [disputeRank(du.status, submissions), at, submissions, bts.length],
    ...(readAt === undefined ? {} : { read_at: readAt }),
  };
}

/** What Stripe says on the dispute, less the funds moves the merge accumulates anyway. */
function stated(s: DisputeSnap): string {
  const { order: _o, read_at: _r, withdrawn: _w, reinstated: _re, ...rest } = s;
  return JSON.stringify(rest);
}

/**
 * Whether only Stripe can tell which of the stored snapshot and an incoming
 * one is newer: they say different things with the same status, submissions
 * and balance transactions, and the incoming one is from the same second; or
 * it is ordered before a stored read that was placed after the second it was
 * read in (`read_at`), though from that second or later, so it may be newer.
 */
export function disputeAmbiguous(current: DisputeSnap | null, incoming: DisputeSnap): boolean {
  if (!current || stated(current) === stated(incoming)) return false;
  const [cRank, cAt, ...cRest] = current.order;
  const [iRank, iAt, ...iRest] = incoming.order;
  if (cRank !== iRank) return false;
  const d = compare(incoming.order, current.order);
  if (d === 0) return true;
  // newer: a later second, or more submissions or balance transactions in the same one
  if (d > 0) return false;
  // older for sure: before the stored snapshot's own second, or fewer submissions or
  // balance transactions (both only ever grow)
  if (iAt < (current.read_at ?? cAt) || iAt === cAt) return false;
  return compare(iRest, cRest) >= 0;
}

/** Element by element, as merge.ts `compareOrder`: > 0 when `a` is later. */
function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * A dispute read back from Stripe after `seen` was stored: placed after it
 * (one second later at least), keeping `read_at`, Stripe's time of the answer.
 */
export function placeDisputeRead(read: DisputeSnap, seen: DisputeSnap | null): DisputeSnap {
  if (!seen) return read;
  const [rank, at, ...rest] = read.order;
  return { ...read, order: [rank, Math.max(at, seen.order[1] + 1), ...rest] };
}

/** Thrown from a build that met a dispute only Stripe can place (nothing written). */
export class DisputeReadBack extends Error {
  constructor(readonly disputeId: string, readonly seen: DisputeSnap) {
    super(`${disputeId} needs a read-back from Stripe`);
  }
}
