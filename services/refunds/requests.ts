/**
 * Asking for a refund and deciding on it (maker-checker). Each is ONE commit:
 * the refund record, the reservation on the transaction (its versionstamp
 * checked, so concurrent requests can never reserve more than is refundable),
 * the job that follows the refund, the client's idempotency binding and the
 * audit entry. Only then is Stripe called (services/refunds/submit.ts).
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, notFound } from "../../core/errors.ts";
import { type AuditService } from "../audit/mod.ts";
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
import { listDisputesOfTransaction } from "../../kv/disputes.ts";
import { isClosedStatus } from "../../domain/dispute.ts";
import { getMergedInto } from "../../kv/transactions.ts";
import { linkRefusal } from "../approvals/mod.ts";
import { amountFor } from "../../config.ts";
import {
  addRequesterMark,
  getRequesterMark,
  listRequesterRefundsSince,
} from "../../kv/refund_policy.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import {
  addCreateRefund,
  addDailyTotal,
  addJobRemoval,
  addTransactionReserved,
  addUpdateRefund,
  getRefund,
  getTransactionEntry,
  listTransactionRefunds,
} from "../../kv/refunds.ts";
import { type RefundReason, type RefundRecord, withHistory } from "../../domain/refund.ts";

export const REFUND_RECONCILE_JOB = "refund.reconcile";
export const REFUND_EXPIRE_JOB = "refund.expire_approval";
/** the reconciliation job first looks after this long: beyond any Stripe call's timeout */
export const RECONCILE_AFTER_MS = 60_000;
/** unknown outcomes are retried with backoff (up to 1 h apart) well past Stripe's 24 h key window */
export const RECONCILE_MAX_ATTEMPTS = 60;

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

export interface RequestServices {
  audit: AuditService;
  newId: IdFactory;
}

type TxnEntry = Deno.KvEntry<Transaction>;

async function loadTransaction(kv: Deno.Kv, id: string): Promise<TxnEntry> {
  let entry = await getTransactionEntry(kv, id);
  // a stub merged into its payment (an alert may still name it): the payment's record
  const into = entry.value ? null : await getMergedInto(kv, id);
  if (into) entry = await getTransactionEntry(kv, into);
  if (!entry.value) throw notFound("transaction", id);
  return entry as TxnEntry;
}

/**
 * Stripe refuses a refund while a dispute leaves the charge not refundable
 * (`is_charge_refundable: false`, a chargeback being decided); asking would
 * only fail there. Each dispute read is checked at commit.
 */
async function assertChargeRefundable(kv: Deno.Kv, op: Deno.AtomicOperation, txnId: string) {
  for (const d of await listDisputesOfTransaction(kv, txnId)) {
    op.check(d);
    if (d.value.is_charge_refundable || isClosedStatus(d.value.status)) continue;
    throw new AppError(
      "charge_not_refundable",
      `Stripe says the charge of ${txnId} cannot be refunded while dispute ${d.value.id} ` +
        `(${d.value.status}) is open: respond to or accept the dispute instead`,
      { extra: { dispute_id: d.value.id, dispute_status: d.value.status } },
    );
  }
}

function reconcileJob(op: Deno.AtomicOperation, deps: Deps, newId: IdFactory, id: string) {
  const job = addJob(op, deps.clock, newId, REFUND_RECONCILE_JOB, { refund_id: id }, {
    dueAt: deps.clock.now() + RECONCILE_AFTER_MS,
    maxAttempts: RECONCILE_MAX_ATTEMPTS,
  });
  return { id: job.id, due_at: job.due_at };
}

export function createRefundRequests(deps: Deps, svc: RequestServices) {
  const { kv, clock, config } = deps;

  /**
   * The approval policy on the operator's last 24 h (README, "Refund approval
   * policy"); the operator's mark is checked so their concurrent requests
   * count each other.
   */
  async function policyReasons(
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
  function request(
    ctx: CallContext,
    input: CreateRefundInput,
    binding: IdempotencyBinding | null,
  ): Promise<RefundRecord> {
    assertValidInput(input);
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
      const reasons = await policyReasons(op, requester, txn, amount, now);
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

  async function loadAwaiting(id: string): Promise<Deno.KvEntry<RefundRecord>> {
    const entry = await getRefund(kv, id);
    if (!entry.value) throw notFound("refund", id);
    if (entry.value.status !== "awaiting_approval") {
      const by = entry.value.approved_by ?? entry.value.rejected_by;
      throw new AppError(
        "conflict",
        `refund ${id} is ${entry.value.status}${by ? ` (decided by ${by})` : ""}; only a refund ` +
          "awaiting approval can be approved or rejected",
        { extra: { status: entry.value.status } },
      );
    }
    return entry as Deno.KvEntry<RefundRecord>;
  }

  /**
   * The checker's approval: the record moves to `processing` (its reservation
   * stays) in one commit with the audit entry; a concurrent approve/reject
   * loses on the record's versionstamp and sees the decision (409).
   */
  async function approve(
    ctx: CallContext,
    id: string,
    body: { note?: string; approval_hash?: string },
    binding: IdempotencyBinding | null,
  ): Promise<RefundRecord> {
    const first = await loadAwaiting(id);
    if (first.value.requested_by === ctx.actor.id) {
      await svc.audit.record(ctx, {
        action: "refund.approve",
        target: { type: "refund", id },
        result: "denied",
        reason: "self-approval: a different operator or admin must approve",
        after: { amount: first.value.amount, currency: first.value.currency },
      });
      throw new AppError(
        "self_approval_forbidden",
        `you requested refund ${id}; a different operator or admin must approve it`,
      );
    }
    // Not an account linked to the requester either (README, "Two-person rules").
    const linked = await linkRefusal(
      kv,
      { requested_by: first.value.requested_by, target: null },
      ctx,
    );
    if (linked) {
      await svc.audit.record(ctx, {
        action: "refund.approve",
        target: { type: "refund", id },
        result: "denied",
        reason: linked.reason,
        after: { amount: first.value.amount, currency: first.value.currency },
      });
      throw linked.error;
    }
    try {
      return await commitApproval(ctx, id, body, binding);
    } catch (e) {
      // A refusal for a stale approval_hash is a denied attempt: audited like the others.
      if (e instanceof AppError && e.extra?.stale_approval_hash) {
        await svc.audit.record(ctx, {
          action: "refund.approve",
          target: { type: "refund", id },
          result: "denied",
          reason: "stale approval_hash: the refund is not what was requested",
          after: { amount: first.value.amount, currency: first.value.currency },
        });
      }
      throw e;
    }
  }

  function commitApproval(
    ctx: CallContext,
    id: string,
    body: { note?: string; approval_hash?: string },
    binding: IdempotencyBinding | null,
  ): Promise<RefundRecord> {
    return svc.audit.commit(ctx, async (op) => {
      const entry = await loadAwaiting(id);
      const before = entry.value;
      const now = clock.now();
      if (Date.parse(before.expires_at!) <= now) {
        throw new AppError(
          "conflict",
          `refund ${id} expired at ${before.expires_at} without approval; its reservation is ` +
            "being released; ask for the refund again",
        );
      }
      const expected = await approvalHash(before);
      if (
        before.approval_hash !== expected || (body.approval_hash && body.approval_hash !== expected)
      ) {
        throw new AppError(
          "conflict",
          `refund ${id} is not what was requested (transaction, amount, currency or reason ` +
            "differ from the approval request); nothing was approved",
          { extra: { stale_approval_hash: true } },
        );
      }
      const txnEntry = await loadTransaction(kv, before.transaction_id);
      await assertChargeRefundable(kv, op, txnEntry.value.id);
      assertRefundableTransaction(txnEntry.value);
      resolveAmount(txnEntry.value, before.amount, refundableOf(txnEntry.value, before.reserved));
      op.check(txnEntry);
      if (before.job) addJobRemoval(op, before.job);
      const iso = new Date(now).toISOString();
      const note = body.note?.trim() || null;
      const after: RefundRecord = {
        ...before,
        status: "processing",
        approved_by: ctx.actor.id,
        decision_note: note,
        sent_at: iso,
        job: reconcileJob(op, deps, svc.newId, id),
        updated_at: iso,
        history: withHistory(before, { at: iso, status: "processing", by: ctx.actor.id, note }),
      };
      addUpdateRefund(op, entry, after);
      await binding?.bind(op, id);
      return {
        value: after,
        audit: [{
          action: "refund.approve",
          target: { type: "refund", id },
          result: "ok",
          before: { status: before.status },
          after: { ...refundAuditView(after), approval_hash: before.approval_hash },
          reason: note,
          stripe: { idempotency_key: after.stripe_idempotency_key },
        }],
      };
    });
  }

  /** Fails fast (404/409) before a rejection is committed by the submitter's `release`. */
  async function checkRejectable(id: string): Promise<RefundRecord> {
    return (await loadAwaiting(id)).value;
  }

  return { request, approve, checkRejectable };
}

export type RefundRequests = ReturnType<typeof createRefundRequests>;
