/**
 * Asking for a refund and deciding on it (maker-checker). Each is ONE commit:
 * the refund record, the reservation on the transaction (its versionstamp
 * checked, so concurrent requests can never reserve more than is refundable),
 * the job that follows the refund, the client's idempotency binding and the
 * audit entry. Only then is Stripe called (services/refunds/submit.ts).
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { Transaction } from "../../domain/transaction.ts";
import {
  APPROVAL_TTL_MS,
  approvalHash,
  approvalReasons,
  assertRefundableTransaction,
  assertValidInput,
  duplicateSuspected,
  findSuspectedDuplicate,
  POLICY_WINDOW_MS,
  refundableOf,
  resolveAmount,
  utcDay,
} from "./policy.ts";
import { refundAuditView } from "./settlement.ts";
import { draftRecord } from "./draft.ts";
import { addJob } from "../../kv/jobs.ts";
import { amountFor } from "../../config.ts";
import {
  addRequesterMark,
  getRequesterMark,
  listRequesterRefundsSince,
} from "../../kv/refund_policy.ts";
import { createRefundApprovals } from "./approve.ts";
import {
  assertChargeRefundable,
  loadTransaction,
  RECONCILE_MAX_ATTEMPTS,
  reconcileJob,
  REFUND_EXPIRE_JOB,
  type RequestParts,
  type RequestServices,
} from "./request_parts.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import {
  addCreateRefund,
  addDailyTotal,
  addTransactionReserved,
  listTransactionRefunds,
} from "../../kv/refunds.ts";
import type { RefundReason, RefundRecord } from "../../domain/refund.ts";

export {
  RECONCILE_AFTER_MS,
  RECONCILE_MAX_ATTEMPTS,
  REFUND_EXPIRE_JOB,
  REFUND_RECONCILE_JOB,
  type RequestServices,
} from "./request_parts.ts";

export interface CreateRefundInput {
  transaction_id: string;
  /** minor units; omitted = everything still refundable */
  amount?: number;
  /** when sent, must be the transaction's currency */
  currency?: string;
  reason: RefundReason;
  note: string;
  confirm_duplicate?: boolean;
  /** the fraud alert this refund answers (reason `fraudulent`) */
  fraud_alert_id?: string;
}

/**
 * The approval policy on the operator's last 24 h (README, "Refund approval
 * policy"); the operator's mark is checked so their concurrent requests
 * count each other.
 */
async function policyReasons(
  { kv, config }: Deps,
  op: Deno.AtomicOperation,
  requester: string,
  txn: Transaction,
  amount: number,
  now: number,
): Promise<string[]> {
  const mark = await getRequesterMark(kv, requester);
  addRequesterMark(op, mark, now);
  const prior = await listRequesterRefundsSince(kv, requester, now - POLICY_WINDOW_MS);
  const threshold = amountFor(config.refundApprovalThresholds, txn.currency);
  const cap = config.refundDailyCaps
    ? amountFor(config.refundDailyCaps, txn.currency)
    : threshold * 10;
  return approvalReasons(
    { amount, currency: txn.currency, transaction_id: txn.id, customer: txn.customer },
    prior,
    { threshold, cap },
  );
}

/** The first commit: record + reservation + job + audit (+ idempotency binding). */
function requestRefund(
  { deps, svc }: RequestParts,
  ctx: CallContext,
  input: CreateRefundInput,
  binding: IdempotencyBinding | null,
): Promise<RefundRecord> {
  assertValidInput(input);
  const { kv, clock } = deps;
  const id = svc.newId("rfd");
  const requester = ctx.actor.id;
  return svc.audit.commit(ctx, async (op) => {
    const txnEntry = await loadTransaction(kv, input.transaction_id);
    const txn = txnEntry.value;
    assertValidInput(input, txn);
    await assertChargeRefundable(kv, op, txn.id);
    assertRefundableTransaction(txn);
    const amount = resolveAmount(txn, input.amount, refundableOf(txn));
    const now = clock.now();
    // A retry with the same key is answered before this point; a new key is not a confirmation.
    if (!input.confirm_duplicate) {
      const earlier = await listTransactionRefunds(kv, txn.id);
      const duplicate = findSuspectedDuplicate(earlier, requester, amount, now);
      if (duplicate) throw duplicateSuspected(duplicate);
    }
    const capDay = ctx.actor.type === "admin" ? utcDay(now) : null;
    const reasons = await policyReasons(deps, op, requester, txn, amount, now);
    const awaiting = reasons.length > 0;
    const base = { transaction_id: txn.id, amount, currency: txn.currency, reason: input.reason };
    const record = draftRecord({
      id,
      txn,
      input,
      base,
      requester,
      reasons,
      hash: awaiting ? await approvalHash(base) : null,
      capDay,
      now,
    });
    if (awaiting) {
      const job = addJob(op, clock, svc.newId, REFUND_EXPIRE_JOB, { refund_id: id }, {
        dueAt: now + APPROVAL_TTL_MS,
        maxAttempts: RECONCILE_MAX_ATTEMPTS,
      });
      record.job = { id: job.id, due_at: job.due_at };
    } else {
      record.job = reconcileJob(op, deps, svc.newId, id);
    }
    addCreateRefund(op, record);
    addTransactionReserved(op, txnEntry, txn.amount_reserved + amount, now);
    if (capDay) addDailyTotal(op, requester, capDay, amount);
    await binding?.bind(op, id);
    return {
      value: record,
      audit: [{
        action: "refund.create",
        target: { type: "refund", id },
        result: "ok",
        after: { ...refundAuditView(record), approval_reasons: reasons },
        reason: record.note,
        stripe: { idempotency_key: awaiting ? null : record.stripe_idempotency_key },
      }],
    };
  });
}

export function createRefundRequests(deps: Deps, svc: RequestServices) {
  const parts: RequestParts = { deps, svc };
  return {
    request: (ctx: CallContext, input: CreateRefundInput, binding: IdempotencyBinding | null) =>
      requestRefund(parts, ctx, input, binding),
    ...createRefundApprovals(parts),
  };
}

export type RefundRequests = ReturnType<typeof createRefundRequests>;
