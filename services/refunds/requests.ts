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
import { APPROVAL_TTL_MS, approvalDecision, POLICY_WINDOW_MS, utcDay } from "./policy.ts";
import {
  assertRefundableTransaction,
  assertValidInput,
  refundableOf,
  resolveAmount,
} from "./refundable.ts";
import { duplicateSuspected, findSuspectedDuplicate } from "./duplicates.ts";
import { refundAuditView } from "./settlement.ts";
import { draftRecord } from "./draft.ts";
import { addJob } from "../../kv/jobs.ts";
import { amountFor } from "../../config.ts";
import { addRequesterMark, payerOf, type RequesterMark } from "../../kv/refund_policy.ts";
import { RequesterRows } from "./policy_rows.ts";
import { createRefundApprovals } from "./approve.ts";
import { assertAlertNotLegitimate } from "./fraud_alert.ts";
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
import { listDisputesOfTransaction } from "../../kv/disputes.ts";
import { addAlertRefund } from "../../kv/fraud.ts";
import type { DisputeRecord } from "../../domain/dispute.ts";
import {
  addCreateRefund,
  addDailyTotal,
  addTransactionReserved,
  type RequesterRow,
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
 * count each other. The payments' customers and cards are read only when this
 * one has a customer or a card (no prior refund can share a missing one).
 */
async function policyReasons(
  { config }: Deps,
  policy: RequesterRows,
  reads: RequestReads,
  txn: Transaction,
  amount: number,
): Promise<{ reasons: string[]; detail: string | null }> {
  const payer = payerOf(txn);
  const prior = payer.customer !== null || payer.card !== null
    ? await policy.withPayers(reads.rows)
    : reads.rows.map((r) => ({ ...r, customer: null, card: null }));
  const threshold = amountFor(config.refundApprovalThresholds, txn.currency);
  const cap = config.refundDailyCaps
    ? amountFor(config.refundDailyCaps, txn.currency)
    : threshold * 10;
  return approvalDecision(
    { amount, currency: txn.currency, transaction_id: txn.id, ...payer },
    prior,
    { threshold, cap },
  );
}

/** What a request reads before deciding, read at once rather than one after another. */
interface RequestReads {
  txnEntry: Deno.KvEntry<Transaction>;
  mark: Deno.KvEntryMaybe<number | RequesterMark>;
  /** the operator's refunds of the policy window (policy_rows.ts) */
  rows: RequesterRow[];
  /** the transaction's disputes (null: read them) */
  disputes: Deno.KvEntry<DisputeRecord>[] | null;
}

async function readForRequest(
  kv: Deno.Kv,
  policy: RequesterRows,
  op: Deno.AtomicOperation,
  ids: { transaction: string; requester: string; refund: string },
  now: number,
): Promise<RequestReads> {
  // The rows hold every request of the operator that landed before the mark's read; one
  // landing after it fails the mark's check, and this request is built again.
  const [txnEntry, { mark, rows }, disputes] = await Promise.all([
    loadTransaction(kv, ids.transaction, "body.transaction_id"),
    policy.read(ids.requester, now - POLICY_WINDOW_MS),
    listDisputesOfTransaction(kv, ids.transaction),
  ]);
  addRequesterMark(op, mark, now, ids.refund);
  policy.asked(ids.requester, ids.refund);
  // a merged stub's id answers as its payment: that payment's disputes are read then
  return {
    txnEntry,
    mark,
    rows,
    disputes: txnEntry.value.id === ids.transaction ? disputes : null,
  };
}

/** The first commit: record + reservation + job + audit (+ idempotency binding). */
function requestRefund(
  { deps, svc }: RequestParts,
  policy: RequesterRows,
  ctx: CallContext,
  input: CreateRefundInput,
  binding: IdempotencyBinding | null,
): Promise<RefundRecord> {
  assertValidInput(input);
  const { kv, clock } = deps;
  const id = svc.newId("rfd");
  const requester = ctx.actor.id;
  return svc.audit.commit(ctx, async (op) => {
    const now = clock.now();
    const ids = { transaction: input.transaction_id, requester, refund: id };
    const reads = await readForRequest(kv, policy, op, ids, now);
    const { txnEntry } = reads;
    const txn = txnEntry.value;
    assertValidInput(input, txn);
    // the alert lists the refund from this commit on, whatever becomes of the request
    // (README "Fraud detection": workflow)
    const alert = input.fraud_alert_id && input.reason === "fraudulent"
      ? await assertAlertNotLegitimate(kv, op, input.fraud_alert_id, "this refund")
      : null;
    await assertChargeRefundable(kv, op, txn.id, reads.disputes ?? undefined);
    assertRefundableTransaction(txn);
    const field = input.amount === undefined ? null : "body.amount";
    const amount = resolveAmount(txn, input.amount, refundableOf(txn), field);
    // A retry with the same key is answered before this point; a new key is not a confirmation.
    if (!input.confirm_duplicate) {
      const earlier = reads.rows.filter((r) => r.transaction_id === txn.id);
      const duplicate = findSuspectedDuplicate(earlier, requester, amount, now);
      if (duplicate) throw duplicateSuspected(duplicate);
    }
    const capDay = ctx.actor.type === "admin" ? utcDay(now) : null;
    const { reasons, detail } = await policyReasons(deps, policy, reads, txn, amount);
    const awaiting = reasons.length > 0;
    const base = { transaction_id: txn.id, amount, currency: txn.currency, reason: input.reason };
    const record = draftRecord({
      id,
      txn,
      input,
      base,
      requester,
      reasons,
      detail,
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
    if (alert) addAlertRefund(op, alert, id, new Date(now).toISOString());
    addTransactionReserved(op, txnEntry, txn.amount_reserved + amount, now);
    if (capDay) addDailyTotal(op, requester, capDay, amount);
    await binding?.bind(op, id);
    return {
      value: record,
      audit: [{
        action: "refund.create",
        target: { type: "refund", id },
        result: "ok",
        after: {
          ...refundAuditView(record),
          approval_reasons: reasons,
          ...(detail ? { approval_detail: detail } : {}),
        },
        reason: record.note,
        stripe: { idempotency_key: awaiting ? null : record.stripe_idempotency_key },
      }],
    };
  }, { shared: true });
}

export function createRefundRequests(deps: Deps, svc: RequestServices) {
  const parts: RequestParts = { deps, svc };
  const policy = new RequesterRows(deps.kv, deps.clock);
  return {
    request: (ctx: CallContext, input: CreateRefundInput, binding: IdempotencyBinding | null) =>
      requestRefund(parts, policy, ctx, input, binding),
    ...createRefundApprovals(parts),
  };
}

export type RefundRequests = ReturnType<typeof createRefundRequests>;
