/**
 * A refund as this service keeps it: its reasons, its statuses and the record
 * with its history. What the refunds service decides about one lives there.
 */
export const REFUND_REASONS = ["duplicate", "fraudulent", "requested_by_customer"] as const;
export type RefundReason = typeof REFUND_REASONS[number];

export const REFUND_STATUSES = [
  "awaiting_approval",
  "processing",
  "pending",
  "requires_action",
  "succeeded",
  "failed",
  "canceled",
  "rejected",
  "expired",
] as const;
export type RefundStatus = typeof REFUND_STATUSES[number];

/**
 * An approval request past its `expires_at` is expired from that moment, whether
 * or not the expiry job has ended it yet (README, "Two-person rules": it reads
 * and lists as expired and can be neither approved nor rejected).
 */
export function hasLapsed(
  r: { status: RefundStatus; expires_at: string | null },
  now: number,
): boolean {
  return r.status === "awaiting_approval" && r.expires_at !== null &&
    Date.parse(r.expires_at) <= now;
}

/** The status a refund reads as at `now` (`expired` once an approval request lapsed). */
export function statusAt(
  r: { status: RefundStatus; expires_at: string | null },
  now: number,
): RefundStatus {
  return hasLapsed(r, now) ? "expired" : r.status;
}

/** Not settled yet: waiting for a second person, or sent with Stripe's answer not known yet. */
export function isUndecided(status: RefundStatus): boolean {
  return status === "awaiting_approval" || status === "processing";
}

export interface RefundHistoryEntry {
  at: string;
  status: RefundStatus;
  /** admin id, `stripe`, or a job (`cron:reconcile_refunds`) */
  by: string;
  note: string | null;
}

export interface RefundRecord {
  id: string;
  transaction_id: string;
  amount: number;
  currency: string;
  reason: RefundReason | null;
  note: string;
  status: RefundStatus;
  /** admin id, or `stripe_dashboard` for a refund made outside this service */
  requested_by: string;
  approved_by: string | null;
  rejected_by: string | null;
  decision_note: string | null;
  stripe_refund: string | null;
  /** Stripe's own status of `stripe_refund`, as last seen */
  stripe_status: string | null;
  failure_reason: string | null;
  fraud_alert_id: string | null;
  /**
   * the requester sent `confirm_duplicate: true` (refund again although a like refund of theirs
   * on the payment was recent); absent on records stored before it was kept (read as false)
   */
  confirm_duplicate?: boolean;
  /** the Stripe idempotency key every attempt of this refund carries */
  stripe_idempotency_key: string;
  /** what the refund is made against at Stripe (a PaymentIntent, or a charge made without one) */
  stripe_target: { payment_intent: string } | { charge: string } | null;
  /** why a second person must approve (`threshold`, `daily_cap`); empty when not */
  approval_reasons: string[];
  /** the sums behind `approval_reasons`, in words; absent on records stored before it was kept */
  approval_detail?: string | null;
  /**
   * What an approval approves: SHA-256 of the refund (its id) and what an approver reads of it
   * (services/refunds/policy.ts `approvalHash`); refunds asked before it bound the refund itself
   * carry the hash of transaction, amount, currency and reason only
   */
  approval_hash: string | null;
  /** ISO 8601: an approval request past this is expired (its reservation released) */
  expires_at: string | null;
  /** what this refund still holds in the transaction's `amount_reserved` */
  reserved: number;
  /** the UTC day of the requester's daily total this refund counts in, while it counts */
  cap_day: string | null;
  /** first call to Stripe (ISO 8601): the same key is reused for 24 h after it */
  sent_at: string | null;
  /** the reconciliation / expiry job that follows this refund, while one does */
  job: { id: string; due_at: number } | null;
  created_at: string;
  updated_at: string;
  settled_at: string | null;
  history: RefundHistoryEntry[];
  /**
   * Times the requester's index row of this refund has been written (kept
   * with the record so the next write counts on; never shown). Absent on
   * records stored before it was counted.
   */
  requester_row_writes?: number;
}

const MAX_HISTORY = 50;

/** Appends to the history, keeping the first entry and the latest ones. */
export function withHistory(
  record: RefundRecord,
  entry: RefundHistoryEntry,
): RefundHistoryEntry[] {
  const all = [...record.history, entry];
  return all.length <= MAX_HISTORY ? all : [all[0], ...all.slice(all.length - MAX_HISTORY + 1)];
}
