/** Disputes as the API shows them: a list row, and the detail with draft, deadline, notes, history. */
import {
  acceptsEvidence,
  deadlinePassed,
  type DisputeHistoryEntry,
  type DisputeNote,
  type DisputeRecord,
  isClosedStatus,
  noResponseAllowed,
  refusedDraftField,
} from "../../domain/dispute.ts";
import {
  checklistFor,
  type ChecklistItem,
  EVIDENCE_CHAR_BUDGET,
  type EvidenceDraft,
  holdsEvidence,
} from "../../domain/dispute_evidence.ts";
import { can, type Permission } from "../../domain/permissions.ts";
import { stripeTimeIso } from "../../domain/stripe_time.ts";

/** The record's fields the API shows as they are. */
type ShownAsRecorded = Pick<
  DisputeRecord,
  | "id"
  | "stripe_dispute"
  | "transaction_id"
  | "customer"
  | "status"
  | "phase"
  | "reason"
  | "amount"
  | "currency"
  | "past_due"
  | "overdue"
  | "has_evidence"
  | "submission_count"
  | "submission_method"
  | "is_charge_refundable"
  | "funds_withdrawn"
  | "funds_reinstated"
  | "fee"
  | "assignee"
>;

/** A submission or close with its reconciliation job's time as a date-time, like every time shown. */
type WithJobTime<T> = Omit<T, "job"> & { job: { id: string; due_at: string } | null };

function withJobTime<T extends { job: { id: string; due_at: number } | null }>(
  x: T | null | undefined,
): WithJobTime<T> | null {
  if (!x) return null;
  const { job, ...rest } = x;
  return { ...rest, job: job ? { id: job.id, due_at: new Date(job.due_at).toISOString() } : null };
}

export interface DisputeView extends ShownAsRecorded {
  /** ISO 8601, null when Stripe allows no response */
  evidence_due_by: string | null;
  /** seconds left to the deadline (negative once past); null without one */
  time_left_s: number | null;
  created_at: string;
  updated_at: string;
  /** what the caller may do now: `evidence`, `submit`, `accept`, `notes` (by their role) */
  actions: string[];
}

export interface DisputeDetail extends DisputeView {
  no_response_allowed: boolean;
  evidence: EvidenceDraft | null;
  evidence_budget: { used: number; remaining: number; limit: number };
  checklist: ChecklistItem[];
  draft: DisputeRecord["draft"];
  submission: WithJobTime<NonNullable<DisputeRecord["submission"]>> | null;
  closing: WithJobTime<NonNullable<DisputeRecord["closing"]>> | null;
  /** the last accept request, with its state in the approvals queue (`expired` once past) */
  accept_request: (NonNullable<DisputeRecord["accept_request"]> & { status: string }) | null;
  reminders: Record<string, string>;
  notes: DisputeNote[];
  history: DisputeHistoryEntry[];
}

/** A record stored before the intake refused unusable times may hold one: shown as null. */
const iso = (s: number | null) => stripeTimeIso(s);

/** What the view needs besides the record to say what the caller may do. */
export interface ActionInputs {
  nowMs: number;
  /** the accept request's state in the approvals queue (null without one) */
  acceptStatus: string | null;
  /** the draft, when `submit` may be offered (a draft holding evidence) */
  draft: EvidenceDraft | null;
  /** the caller's role: only what it may do is offered; undefined: everything (jobs, tests) */
  role?: string | null;
}

export function disputeView(r: DisputeRecord, a: ActionInputs): DisputeView {
  const nowMs = a.nowMs;
  return {
    id: r.id,
    stripe_dispute: r.stripe_dispute,
    transaction_id: r.transaction_id,
    customer: r.customer,
    status: r.status,
    phase: r.phase,
    reason: r.reason,
    amount: r.amount,
    currency: r.currency,
    evidence_due_by: iso(r.evidence_due_by),
    time_left_s: awaitsResponse(r) && iso(r.evidence_due_by) ? timeLeft(r, nowMs) : null,
    past_due: r.past_due,
    // records kept before `past_due` marked them overdue too (README "Dispute workbench")
    overdue: r.overdue || (awaitsResponse(r) && r.past_due),
    has_evidence: r.has_evidence,
    submission_count: r.submission_count,
    submission_method: r.submission_method,
    is_charge_refundable: r.is_charge_refundable,
    funds_withdrawn: r.funds_withdrawn,
    funds_reinstated: r.funds_reinstated,
    fee: r.fee,
    assignee: r.assignee,
    created_at: r.created_at,
    updated_at: r.updated_at,
    actions: actionsOf(r, nowMs, a.acceptStatus, a.draft, a.role),
  };
}

/** Seconds to the deadline; none left once Stripe marks it `past_due`, whatever our clock says. */
function timeLeft(r: DisputeRecord, nowMs: number): number {
  const left = Math.floor(r.evidence_due_by! - nowMs / 1000);
  return r.past_due ? Math.min(left, 0) : left;
}

/** The deadline still matters: open, and no evidence submitted yet. */
function awaitsResponse(r: DisputeRecord): boolean {
  return !isClosedStatus(r.status) && r.phase !== "submitted";
}

/** What the detail needs besides the record. */
export interface DetailExtra extends ActionInputs {
  notes: DisputeNote[];
}

/** The permission each action needs (README "Dispute workbench": the roles of its routes). */
const ACTION_PERMISSION: Record<string, Permission> = {
  evidence: "disputes.evidence",
  submit: "disputes.submit",
  accept: "disputes.accept",
  notes: "disputes.note",
};

/**
 * Whether the draft of `r` is needed to say what `role` may do: only to offer
 * `submit`, to a role that may submit, while the dispute is being drafted.
 */
export function actionsNeedDraft(r: DisputeRecord, role?: string | null): boolean {
  if (!r.draft || r.phase !== "drafting") return false;
  return !role || can(role, "disputes.submit");
}

/**
 * What the caller may do now, of what `role` may do at all (a support agent is
 * never offered `submit` or `accept`: they would be 403).
 */
export function actionsOf(
  r: DisputeRecord,
  nowMs: number,
  acceptStatus: string | null,
  draft: EvidenceDraft | null,
  role?: string | null,
): string[] {
  const all = possibleActions(r, nowMs, acceptStatus, draft);
  if (!role) return all;
  return all.filter((a) => can(role, ACTION_PERMISSION[a]));
}

/**
 * What an operator may do now: a dispute with no deadline offers only accept
 * and notes; past the deadline nothing can be answered; `submit` needs a
 * draft holding evidence; `accept` is not offered while a request for it
 * waits or a close is in flight.
 */
function possibleActions(
  r: DisputeRecord,
  nowMs: number,
  acceptStatus: string | null,
  draft: EvidenceDraft | null,
): string[] {
  if (isClosedStatus(r.status)) return ["notes"];
  if (!acceptsEvidence(r.status) || r.closing?.state === "processing") return ["notes"];
  const accept = acceptStatus === "pending" ? [] : ["accept"];
  if (noResponseAllowed(r)) return [...accept, "notes"];
  if (r.phase === "submitted") return ["notes"];
  const open = !deadlinePassed(r, nowMs);
  const answer = !open
    ? []
    : r.draft && holdsEvidence(draft) && !refusedDraftField(r.draft)
    ? ["evidence", "submit"]
    : ["evidence"];
  return [...answer, ...accept, "notes"];
}

export function disputeDetail(
  r: DisputeRecord,
  extra: DetailExtra,
): DisputeDetail {
  const used = r.draft?.chars ?? 0;
  return {
    ...disputeView(r, extra),
    no_response_allowed: noResponseAllowed(r),
    evidence: extra.draft,
    evidence_budget: {
      used,
      remaining: EVIDENCE_CHAR_BUDGET - used,
      limit: EVIDENCE_CHAR_BUDGET,
    },
    checklist: checklistFor(r.reason, extra.draft ?? {}),
    draft: r.draft,
    submission: withJobTime(r.submission),
    closing: withJobTime(r.closing),
    accept_request: r.accept_request
      ? { ...r.accept_request, status: extra.acceptStatus ?? "unknown" }
      : null,
    reminders: r.reminders,
    notes: extra.notes,
    history: r.history.map(historyView),
  };
}

/**
 * A history line as shown: a deadline it recorded in Stripe's unix seconds is the ISO
 * time, like the dispute's own `evidence_due_by` (README "API": every time shown is ISO).
 */
function historyView(h: DisputeHistoryEntry): DisputeHistoryEntry {
  const due = h.changes.evidence_due_by;
  if (
    due === undefined || due === null || typeof due === "string" && !Number.isNaN(Date.parse(due))
  ) {
    return h;
  }
  // Stripe's seconds; anything else (stored before the intake refused it) is shown as null
  return { ...h, changes: { ...h.changes, evidence_due_by: iso(due as number) } };
}
