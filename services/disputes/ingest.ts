/**
 * Keeping the dispute record in step with Stripe. This is the hook the Stripe
 * event applier calls (services/ingest `DisputeChangeHook`) inside the commit
 * that records a change to a Stripe dispute, whoever brings the news: a
 * `charge.dispute.*` webhook, the workbench's own submit or accept, a sync.
 * The applier only calls it when the dispute's newest snapshot moved (an
 * older snapshot never does), and the record is built from that snapshot, so
 * the record is order-safe exactly as the transaction is.
 *
 * A submission recorded `processing` settles here once Stripe counts it, and
 * the deadline reminders close by themselves once the dispute is submitted
 * or closed.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditInput } from "../audit/mod.ts";
import type { DisputeChangeHook } from "../ingest/mod.ts";
import type { DisputeSnap, Transaction } from "../../domain/transaction.ts";
import type { IdFactory } from "../../core/ids.ts";
import {
  type DisputeRecord,
  isClosedStatus,
  phaseOf,
  withDisputeHistory,
} from "../../domain/dispute.ts";
import {
  addCreateDispute,
  addUpdateDispute,
  getDispute,
  getDisputeIdByStripe,
} from "../../kv/disputes.ts";
import { addJobRemoval } from "../../kv/refunds.ts";
import { closeReminders } from "./reminders.ts";

/** Fields compared to write a history line (Stripe's side and the local phase). */
const TRACKED = [
  "status",
  "phase",
  "reason",
  "amount",
  "evidence_due_by",
  "submission_count",
  "has_evidence",
  "past_due",
  "overdue",
  "is_charge_refundable",
  "funds_withdrawn",
  "funds_reinstated",
  "fee",
  "transaction_id",
] as const satisfies readonly (keyof DisputeRecord)[];

function fromStripe(snap: DisputeSnap, txn: Transaction) {
  return {
    stripe_dispute: snap.id,
    transaction_id: txn.id,
    customer: txn.customer,
    status: snap.status,
    reason: snap.reason,
    amount: snap.amount,
    currency: snap.currency,
    evidence_due_by: snap.evidence_due_by || null,
    past_due: snap.past_due ?? false,
    has_evidence: snap.has_evidence ?? false,
    submission_count: snap.submission_count,
    submission_method: snap.submission_method ?? null,
    is_charge_refundable: snap.is_charge_refundable ?? true,
    funds_withdrawn: snap.withdrawn,
    funds_reinstated: snap.reinstated,
    fee: snap.fee ?? 0,
    stripe_created: snap.created,
  };
}

export function diffTracked(before: DisputeRecord | null, after: DisputeRecord) {
  const changes: Record<string, unknown> = {};
  for (const k of TRACKED) {
    if (!before || JSON.stringify(before[k]) !== JSON.stringify(after[k])) changes[k] = after[k];
  }
  return changes;
}

/** The record after Stripe's newest snapshot (no writes). */
export function recordFromSnap(
  before: DisputeRecord | null,
  snap: DisputeSnap,
  txn: Transaction,
  ids: { newId: IdFactory; at: string },
): DisputeRecord {
  const base: DisputeRecord = before ?? {
    id: ids.newId("dsp"),
    ...fromStripe(snap, txn),
    phase: "needs_response",
    assignee: null,
    submission: null,
    draft: null,
    reminders: {},
    overdue: false,
    created_at: ids.at,
    updated_at: ids.at,
    history: [],
  };
  const next: DisputeRecord = { ...base, ...fromStripe(snap, txn), updated_at: ids.at };
  const s = next.submission;
  // Stripe counted a submission past the round ours was recorded in: it is in.
  if (s?.state === "processing" && next.submission_count > s.round) {
    next.submission = { ...s, state: "submitted", settled_at: ids.at, job: null };
  }
  const c = next.closing;
  // an accept's close in flight is settled once Stripe shows the dispute closed
  if (c?.state === "processing" && isClosedStatus(next.status)) {
    next.closing = { ...c, state: "closed", settled_at: ids.at, job: null };
  }
  next.phase = phaseOf(next);
  // Stripe's `past_due` is its word that the deadline passed: overdue, whatever our clock
  // reads; a dispute no longer waiting for evidence is not (README "Dispute workbench",
  // Deadlines). Built from the newest snapshot, so every event order ends the same.
  const waiting = next.phase === "needs_response" || next.phase === "drafting";
  // A deadline that moved (an inquiry escalated to a chargeback, an extension) is judged
  // afresh: the overdue mark and the reminders of the old one do not carry over.
  const moved = before !== null && deadlineMoved(before, next);
  const passed = moved ? dueByPassed(next, Date.parse(ids.at)) : next.overdue;
  next.overdue = waiting && (passed || next.past_due);
  if (moved && waiting) next.reminders = {};
  return next;
}

/**
 * Whether Stripe moved the evidence deadline: a new `due_by` (or none), or its `past_due`
 * withdrawn (README "Dispute workbench", Deadlines).
 */
export function deadlineMoved(
  before: Pick<DisputeRecord, "evidence_due_by" | "past_due">,
  after: Pick<DisputeRecord, "evidence_due_by" | "past_due">,
): boolean {
  return before.evidence_due_by !== after.evidence_due_by || (before.past_due && !after.past_due);
}

/** The deadline has passed by this service's clock. */
function dueByPassed(r: Pick<DisputeRecord, "evidence_due_by">, nowMs: number): boolean {
  return !!r.evidence_due_by && r.evidence_due_by * 1000 <= nowMs;
}

/** Why the reminders of the old deadline closed. */
function movedNote(r: Pick<DisputeRecord, "evidence_due_by">): string {
  return r.evidence_due_by
    ? `the evidence deadline moved to ${new Date(r.evidence_due_by * 1000).toISOString()}`
    : "Stripe no longer gives an evidence deadline";
}

export function createDisputeChangeHook(
  deps: Deps,
  svc: { newId: IdFactory },
): DisputeChangeHook {
  const { kv, clock, log } = deps;
  return async (op, _raw: Stripe.Dispute, txn, change, stripeRequest): Promise<AuditInput[]> => {
    const snap = change.after;
    const idEntry = await getDisputeIdByStripe(kv, snap.id);
    const entry = idEntry.value ? await getDispute(kv, idEntry.value) : null;
    const before = entry?.value ?? null;
    const at = new Date(clock.now()).toISOString();
    const next = recordFromSnap(before, snap, txn, { newId: svc.newId, at });
    const changes = diffTracked(before, next);
    if (before && Object.keys(changes).length === 0) return [];
    // the old deadline's reminders, cleared for the new one's (closed below)
    if (before && next.reminders !== before.reminders && Object.keys(before.reminders).length) {
      changes.reminders = next.reminders;
    }
    next.history = withDisputeHistory(next, {
      at,
      by: "stripe",
      action: before ? "stripe_update" : "stripe_opened",
      changes,
    });
    const audit: AuditInput[] = [];
    const settled = before?.submission?.state === "processing" &&
      next.submission?.state === "submitted";
    if (settled) {
      if (before!.submission!.job) addJobRemoval(op, before!.submission!.job);
      audit.push({
        action: "dispute.submission_settled",
        target: { type: "dispute", id: next.id },
        result: "ok",
        before: { submission: "processing" },
        after: { submission: "submitted", submission_count: next.submission_count },
        // the request that brought Stripe's word (its answer, a reconciliation's read, the event's)
        stripe: {
          request_id: stripeRequest?.request_id ?? null,
          idempotency_key: before!.submission!.stripe_idempotency_key,
        },
      });
    }
    if (before?.closing?.state === "processing" && next.closing?.state === "closed") {
      if (before.closing.job) addJobRemoval(op, before.closing.job);
      audit.push({
        action: "dispute.accept_settled",
        target: { type: "dispute", id: next.id },
        result: "ok",
        before: { closing: "processing" },
        after: { closing: "closed", status: next.status },
        stripe: {
          request_id: stripeRequest?.request_id ?? null,
          idempotency_key: before.closing.stripe_idempotency_key,
        },
      });
    }
    if (next.phase !== "needs_response" && next.phase !== "drafting") {
      audit.push(...await closeReminders(kv, op, next, "the dispute was " + next.phase, at));
      next.overdue = false;
    } else if (before && deadlineMoved(before, next)) {
      // the reminders named the old deadline; the job raises the new one's (reminders.ts)
      audit.push(...await closeReminders(kv, op, before, movedNote(next), at));
    }
    if (before) addUpdateDispute(op, entry as Deno.KvEntry<DisputeRecord>, next);
    else {
      op.check(idEntry);
      addCreateDispute(op, next);
      log.info("dispute recorded", { dispute_id: next.id, stripe_dispute: snap.id });
    }
    return audit;
  };
}
