/** The record a refund request starts as (pure: the request's commit writes it). */
import type { RefundRecord } from "../../domain/refund.ts";
import type { Transaction } from "../../domain/transaction.ts";
import { APPROVAL_TTL_MS, approvalHash } from "./policy.ts";
import { stripeIdempotencyKey } from "./submit.ts";

/**
 * A new refund record: awaiting approval when there are reasons (with its `approval_hash`), else
 * sent (`processing`).
 */
export function draftRecord(p: {
  id: string;
  txn: Transaction;
  input: { note: string; fraud_alert_id?: string | null; confirm_duplicate?: boolean };
  base: Pick<RefundRecord, "transaction_id" | "amount" | "currency" | "reason">;
  requester: string;
  reasons: string[];
  /** the sums behind `reasons`, in words (policy.ts `approvalDecision`) */
  detail?: string | null;
  capDay: string | null;
  now: number;
}): RefundRecord {
  const { id, txn, input, base, requester, reasons, now } = p;
  const iso = new Date(now).toISOString();
  const awaiting = reasons.length > 0;
  const record: RefundRecord = {
    id,
    ...base,
    note: input.note.trim(),
    status: awaiting ? "awaiting_approval" : "processing",
    requested_by: requester,
    approved_by: null,
    rejected_by: null,
    decision_note: null,
    stripe_refund: null,
    stripe_status: null,
    failure_reason: null,
    fraud_alert_id: input.fraud_alert_id ?? null,
    confirm_duplicate: input.confirm_duplicate === true,
    stripe_idempotency_key: stripeIdempotencyKey(id),
    stripe_target: txn.stripe_payment_intent
      ? { payment_intent: txn.stripe_payment_intent }
      : { charge: txn.stripe_charge! },
    approval_reasons: reasons,
    approval_detail: awaiting ? p.detail ?? null : null,
    approval_hash: null,
    expires_at: awaiting ? new Date(now + APPROVAL_TTL_MS).toISOString() : null,
    reserved: base.amount,
    cap_day: p.capDay,
    sent_at: awaiting ? null : iso,
    job: null,
    created_at: iso,
    updated_at: iso,
    settled_at: null,
    history: [{
      at: iso,
      status: awaiting ? "awaiting_approval" : "processing",
      by: requester,
      note: input.note.trim(),
    }],
  };
  // what the approver reads, the refund's id with it, is what an approval approves
  if (awaiting) record.approval_hash = approvalHash(record);
  return record;
}
