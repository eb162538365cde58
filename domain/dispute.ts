/**
 * Disputes: the record the workbench keeps beside Stripe's dispute, its local
 * phase, and the pure rules about evidence (the fields of the pinned SDK, the
 * 150,000-character budget Stripe enforces, what each reason needs) and about
 * when evidence may still be submitted. No I/O here.
 */

import { byWhom, type CallContext } from "./actor.ts";
import { stripeTimeIso } from "./stripe_time.ts";

/** Every dispute status of the pinned SDK (inquiries, chargebacks, appeals, prevented). */
export const DISPUTE_STATUSES = [
  "warning_needs_response",
  "warning_under_review",
  "warning_closed",
  "needs_response",
  "under_review",
  "appeal_needs_response",
  "appeal_under_review",
  "won",
  "lost",
  "prevented",
] as const;
export type DisputeStatus = typeof DISPUTE_STATUSES[number];

export const DISPUTE_PHASES = [
  "needs_response",
  "drafting",
  "submitted",
  "won",
  "lost",
  "closed",
] as const;
export type DisputePhase = typeof DISPUTE_PHASES[number];

/** Statuses in which Stripe still takes evidence (and `close`). */
const ANSWERABLE = new Set(["needs_response", "warning_needs_response", "appeal_needs_response"]);
const CLOSED = new Set(["won", "lost", "warning_closed", "prevented"]);

export function acceptsEvidence(status: string): boolean {
  return ANSWERABLE.has(status);
}

export function isClosedStatus(status: string): boolean {
  return CLOSED.has(status);
}

export interface DisputeNote {
  id: string;
  at: string;
  by: string;
  text: string;
}

export interface DisputeHistoryEntry {
  at: string;
  /** admin id, `stripe`, or a job (`cron:dispute_reminders`) */
  by: string;
  action: string;
  /** what changed, field -> new value */
  changes: Record<string, unknown>;
}

/** A submission of evidence at Stripe, recorded before the call (one per round). */
export interface DisputeSubmission {
  /** `submission_count` at Stripe when it was asked for: an appeal starts the next round */
  round: number;
  /** attempts in this round so far (a refused attempt frees the round; the key changes with it) */
  attempt: number;
  state: "processing" | "submitted" | "failed";
  stripe_idempotency_key: string;
  requested_by: string;
  requested_at: string;
  /** the draft submitted (`draft.hash`): the same admin's submit of it again is a second click */
  draft_hash?: string;
  /** first call to Stripe: the same key is reused for 23 h after it */
  sent_at: string | null;
  settled_at: string | null;
  failure: string | null;
  /** the reconciliation job following it while `processing` */
  job: { id: string; due_at: number } | null;
}

/** Closing at Stripe after an accept's go-ahead, recorded before the call (like a submission). */
export interface DisputeClosing {
  /** `processing` until Stripe's answer, its webhook or reconciliation says how it went */
  state: "processing" | "closed" | "failed";
  /** go-aheads so far (a refused close frees the dispute; the key changes with the next) */
  attempt: number;
  stripe_idempotency_key: string;
  /** who gave the go-ahead (the approver, for an approved request) */
  requested_by: string;
  requested_at: string;
  approval_id: string | null;
  settled_at: string | null;
  failure: string | null;
  /** the reconciliation job following it while `processing` */
  job: { id: string; due_at: number } | null;
}

export interface DraftMeta {
  hash: string;
  chunks: number;
  fields: string[];
  chars: number;
  updated_at: string;
  updated_by: string;
  /** counts the saves: a staging answer is recorded only against the version it sent */
  version?: number;
  /** Stripe holds exactly this draft (staged with `submit=false`, every other field blanked) */
  staged: boolean;
  stage_error: string | null;
  /**
   * The evidence field Stripe refused when staging this draft (a file id it does not know):
   * the draft cannot be submitted until that field is mended or removed.
   */
  stage_error_field?: string | null;
}

/**
 * The field Stripe refused in the stage of the current draft (null: none). Drafts recorded
 * before `stage_error_field` existed say it only in words: "(evidence field receipt: …)".
 */
export function refusedDraftField(meta: DraftMeta | null): string | null {
  if (!meta || meta.staged) return null;
  if (meta.stage_error_field !== undefined) return meta.stage_error_field;
  return /\(evidence field (\w+): /.exec(meta.stage_error ?? "")?.[1] ?? null;
}

export interface DisputeRecord {
  id: string;
  stripe_dispute: string;
  transaction_id: string;
  customer: string | null;
  status: string;
  reason: string;
  amount: number;
  currency: string;
  /** unix seconds; null (or 0) when no response is allowed */
  evidence_due_by: number | null;
  past_due: boolean;
  has_evidence: boolean;
  submission_count: number;
  submission_method: string | null;
  is_charge_refundable: boolean;
  funds_withdrawn: number;
  funds_reinstated: number;
  /** Stripe's dispute fees net of any returned (kept here, not on the customer's ledger) */
  fee: number;
  phase: DisputePhase;
  assignee: string | null;
  submission: DisputeSubmission | null;
  draft: DraftMeta | null;
  /** ops alert ids raised as deadline reminders, by threshold (`72h`, `24h`) */
  reminders: Record<string, string>;
  overdue: boolean;
  /** an accept at or above the approval threshold, waiting for a second operator */
  accept_request?: {
    requested_by: string;
    note: string;
    requested_at: string;
    /** the request in the approvals queue (`apr_…`) */
    approval_id?: string;
  } | null;
  /** the close at Stripe after an accept's go-ahead */
  closing?: DisputeClosing | null;
  stripe_created: number;
  created_at: string;
  updated_at: string;
  history: DisputeHistoryEntry[];
}

/** No response possible: Stripe gives no deadline (or 0). */
export function noResponseAllowed(r: Pick<DisputeRecord, "evidence_due_by">): boolean {
  return !r.evidence_due_by;
}

/** The local phase: Stripe's status, refined by what the workbench knows. */
export function phaseOf(
  r: Pick<DisputeRecord, "status" | "draft" | "submission" | "submission_count">,
): DisputePhase {
  if (r.status === "won") return "won";
  if (r.status === "lost") return "lost";
  if (isClosedStatus(r.status)) return "closed";
  if (!acceptsEvidence(r.status)) return "submitted";
  const round = r.submission_count;
  if (r.submission && r.submission.round === round && r.submission.state !== "failed") {
    return "submitted";
  }
  // a draft emptied of every field is nothing drafted (README, "Dispute workbench", Phases)
  return r.draft?.fields.length ? "drafting" : "needs_response";
}

/**
 * Why the evidence must wait: an accept's close is in flight (null: none is).
 * Only Stripe's refusal of the close frees the dispute (README, "Accepting once").
 */
export function closingRefusal(r: Pick<DisputeRecord, "closing">): string | null {
  const c = r.closing;
  if (c?.state !== "processing") return null;
  return `it is being closed at Stripe (accepted by ${c.requested_by} at ${c.requested_at}; ` +
    "Stripe's answer, its webhook or reconciliation settles it): wait for that; evidence can " +
    "be worked on again only if Stripe refuses the close";
}

/** The submission of the current round, unless it failed (which frees the round). */
export function roundSubmission(r: DisputeRecord): DisputeSubmission | null {
  const s = r.submission;
  // the round is ours until Stripe asks for evidence again (an appeal)
  const sameRound = s && (s.round === r.submission_count || !acceptsEvidence(r.status));
  return s && sameRound && s.state !== "failed" ? s : null;
}

/**
 * Why evidence cannot be submitted now (null: it can). With `ctx`, the
 * submission that took the round names its submitter as "you" to them.
 */
export function submitRefusal(
  r: DisputeRecord,
  nowMs: number,
  ctx?: CallContext,
): string | null {
  const s = roundSubmission(r);
  const who = (x: DisputeSubmission) =>
    ctx ? byWhom(x.requested_by, x.requested_at, ctx) : `by ${x.requested_by} at ${x.requested_at}`;
  if (isClosedStatus(r.status)) {
    return `the dispute is closed (${r.status})${s ? `; evidence was submitted ${who(s)}` : ""}`;
  }
  const closing = closingRefusal(r);
  if (closing) return closing;
  if (noResponseAllowed(r)) {
    return "Stripe allows no response to this dispute (no evidence deadline): accept it or add notes";
  }
  if (s) return `evidence was already submitted in this round (${who(s)})`;
  if (!acceptsEvidence(r.status)) {
    return `Stripe no longer accepts evidence for this dispute (${r.status})`;
  }
  return deadlineRefusal(r, nowMs);
}

/**
 * Evidence is taken only until `evidence_due_by` (null: the deadline has not passed).
 * Stripe's `past_due` is its own word that it has: Stripe refuses evidence from then on,
 * whatever this service's clock reads (README, "Dispute workbench", Deadlines).
 */
export function deadlineRefusal(
  r: Pick<DisputeRecord, "evidence_due_by" | "past_due">,
  nowMs: number,
): string | null {
  const due = stripeTimeIso(r.evidence_due_by);
  if (!due) return null; // none, or one stored before the intake refused unusable times
  if (r.evidence_due_by! * 1000 <= nowMs) return `the evidence deadline passed at ${due}`;
  if (r.past_due) return `the evidence deadline (${due}) has passed (Stripe marks it past_due)`;
  return null;
}

/** Whether the evidence deadline has passed, by this service's clock or by Stripe's word. */
export function deadlinePassed(
  r: Pick<DisputeRecord, "evidence_due_by" | "past_due">,
  nowMs: number,
): boolean {
  return deadlineRefusal(r, nowMs) !== null;
}

export const MAX_DISPUTE_HISTORY = 100;

/** Appends to the history, keeping the first entry and the latest ones. */
export function withDisputeHistory(
  r: Pick<DisputeRecord, "history">,
  entry: DisputeHistoryEntry,
): DisputeHistoryEntry[] {
  const all = [...r.history, entry];
  return all.length <= MAX_DISPUTE_HISTORY
    ? all
    : [all[0], ...all.slice(all.length - MAX_DISPUTE_HISTORY + 1)];
}
