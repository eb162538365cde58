/**
 * Deciding on a refund that awaits a second person (maker-checker): the
 * approval is one commit (record to `processing`, the reconciliation job, the
 * client's idempotency binding, the audit entry); each refusal (self-approval,
 * a linked account, a stale `approval_hash`, a disabled or demoted requester) is audited as
 * denied. A rejection is committed by the submitter's `release`, after the same self / linked
 * account rule (its requester may not reject it either), refused the same way.
 */
import { APPROVAL_POLICY } from "../../domain/approval.ts";
import { wrongApprovalHash } from "../../domain/approval_hash_refusal.ts";
import { byWhom, type CallContext } from "../../domain/actor.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import { addJobRemoval, addUpdateRefund, getRefund } from "../../kv/refunds.ts";
import { hasLapsed, type RefundRecord, withHistory } from "../../domain/refund.ts";
import { matchesApprovalHash } from "./policy.ts";
import { assertRefundableTransaction, refundableOf, resolveAmount } from "./refundable.ts";
import { refundAuditView } from "./settlement.ts";
import {
  type RequesterNeeds,
  requesterRefusal,
  requesterVoid,
  requesterVoidError,
} from "../approvals/mod.ts";
import { deciderRefusal } from "./deciders.ts";
import { getAdmin } from "../../kv/admins.ts";
import { answersFraudAlert, assertAlertNotLegitimate } from "./fraud_alert.ts";
import {
  assertChargeRefundable,
  loadTransaction,
  reconcileJob,
  type RequestParts,
} from "./request_parts.ts";

/** A requester must still be allowed to ask for refunds (README, "Refund approval policy"). */
/** what a refund's requester must keep (the policy table's `refund.approve` row) */
const REQUESTER_NEEDS: RequesterNeeds = APPROVAL_POLICY["refund.approve"].requester;

/**
 * Past its deadline a request can be neither approved nor rejected (README,
 * "Two-person rules"); `approval_expired` asks the caller to end it now
 * (void.ts), releasing its reservation, rather than leave that to the job.
 */
export function lapsedError(record: RefundRecord): AppError {
  return new AppError(
    "conflict",
    `refund ${record.id} expired at ${record.expires_at} without a decision, so it can be ` +
      "neither approved nor rejected",
    { extra: { approval_expired: true, refund_status: "expired" } },
  );
}

/** The refund, still awaiting approval and within its deadline at `now`; else 404 / 409. */
async function loadAwaiting(
  kv: Deno.Kv,
  id: string,
  now: number,
  ctx: CallContext,
): Promise<Deno.KvEntry<RefundRecord>> {
  const entry = await getRefund(kv, id);
  if (!entry.value) throw notFound("refund", id);
  if (hasLapsed(entry.value, now)) throw lapsedError(entry.value);
  if (entry.value.status !== "awaiting_approval") {
    const r = entry.value;
    const by = r.approved_by ?? r.rejected_by;
    // who decided and when (their decision's history entry), "you" to its decider
    const how = r.approved_by ? "approved" : "rejected";
    const at = by ? r.history.findLast((h) => h.by === by)?.at ?? null : null;
    throw new AppError(
      "conflict",
      `refund ${id} is ${r.status}${by ? ` (${how} ${byWhom(by, at, ctx)})` : ""}; only a ` +
        "refund awaiting approval can be approved or rejected",
      { extra: { refund_status: entry.value.status } },
    );
  }
  return entry as Deno.KvEntry<RefundRecord>;
}

/** A refused decision is audited (`result: denied`) before the refusal is thrown. */
function denied(
  parts: RequestParts,
  ctx: CallContext,
  first: RefundRecord,
  reason: string,
  action: "refund.approve" | "refund.reject" = "refund.approve",
) {
  return parts.svc.audit.record(ctx, {
    action,
    target: { type: "refund", id: first.id },
    result: "denied",
    reason,
    after: { amount: first.amount, currency: first.currency },
  });
}

/**
 * The checker's approval: the record moves to `processing` (its reservation
 * stays) in one commit with the audit entry; a concurrent approve/reject
 * loses on the record's versionstamp and sees the decision (409).
 */
async function approve(
  parts: RequestParts,
  ctx: CallContext,
  id: string,
  body: { note?: string; approval_hash?: string },
  binding: IdempotencyBinding | null,
): Promise<RefundRecord> {
  const { kv, clock } = parts.deps;
  const first = (await loadAwaiting(kv, id, clock.now(), ctx)).value;
  // not the requester, nor an account linked to them (README, "Two-person rules")
  const refused = await deciderRefusal(kv, first, ctx, true);
  if (refused) {
    await denied(parts, ctx, first, refused.reason);
    throw refused.error;
  }
  // A disabled or demoted requester's refund is void: the caller ends it (void.ts), releasing
  // the reservation.
  const gone = await requesterRefusal(kv, first, `refund ${id}`, REQUESTER_NEEDS);
  if (gone) {
    await denied(parts, ctx, first, gone.reason);
    throw gone.error;
  }
  try {
    return await commitApproval(parts, ctx, id, body, binding);
  } catch (e) {
    // A refusal for a stale approval_hash is a denied attempt: audited like the others.
    if (e instanceof AppError && e.extra?.stale_approval_hash) {
      await denied(
        parts,
        ctx,
        first,
        e.errors?.length
          ? "stale approval_hash: the approval_hash sent is not the refund's current hash " +
            "(the refund is unchanged)"
          : "stale approval_hash: the refund is not what was requested",
      );
    }
    // So is one for a fraud alert resolved legitimate meanwhile (the caller voids it: void.ts).
    if (e instanceof AppError && e.extra?.fraud_alert_legitimate) {
      await denied(parts, ctx, first, `fraud alert ${first.fraud_alert_id} is resolved_legitimate`);
    }
    throw e;
  }
}

/**
 * The refund is what was asked for, but the hash sent is not its hash (mistyped, copied from
 * another refund): said so on the field, never with the refund's hash (domain/approval_hash_refusal.ts).
 */
function wrongHash(id: string, body: { approval_hash?: string }): AppError {
  return wrongApprovalHash({
    sent: body.approval_hash ?? "",
    subject: `refund ${id}`,
    readPath: `/api/admin/payments/refunds/${id}`,
    field: "approval.hash",
    extra: { stale_approval_hash: true },
  });
}

function commitApproval(
  { deps, svc }: RequestParts,
  ctx: CallContext,
  id: string,
  body: { note?: string; approval_hash?: string },
  binding: IdempotencyBinding | null,
): Promise<RefundRecord> {
  const { kv, clock } = deps;
  return svc.audit.commit(ctx, async (op) => {
    const now = clock.now();
    const entry = await loadAwaiting(kv, id, now, ctx);
    const before = entry.value;
    // the stored hash is what the approver read (`approval.hash`): the refund must still be
    // what it was made of, and the hash sent must be it
    if (!before.approval_hash || !matchesApprovalHash(before)) {
      throw new AppError(
        "conflict",
        `refund ${id} is not what was requested (its transaction, amount, currency, reason, ` +
          "note or requester differ from the approval request); nothing was approved",
        { extra: { stale_approval_hash: true } },
      );
    }
    if (body.approval_hash && body.approval_hash !== before.approval_hash) {
      throw wrongHash(id, body);
    }
    // checked in this commit too: a disable or demotion landing since the check above voids it
    const requester = await getAdmin(kv, before.requested_by);
    const voided = requesterVoid(before, requester.value, REQUESTER_NEEDS);
    if (voided) throw requesterVoidError(`refund ${id}`, voided);
    op.check(requester);
    if (answersFraudAlert(before)) {
      await assertAlertNotLegitimate(kv, op, before.fraud_alert_id!, `refund ${id}`);
    }
    const txnEntry = await loadTransaction(kv, before.transaction_id);
    await assertChargeRefundable(kv, op, txnEntry.value.id);
    assertRefundableTransaction(txnEntry.value);
    const refundable = refundableOf(txnEntry.value, before.reserved);
    // no amount is sent here; its own reservation is not "in flight" beside it
    resolveAmount(txnEntry.value, before.amount, refundable, null, before.reserved);
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
  }, { shared: true });
}

export function createRefundApprovals(parts: RequestParts) {
  return {
    approve: (
      ctx: CallContext,
      id: string,
      body: { note?: string; approval_hash?: string },
      binding: IdempotencyBinding | null,
    ) => approve(parts, ctx, id, body, binding),
    /**
     * Fails fast before a rejection is committed by the submitter's `release`: 404/409, or 403
     * for whoever could not approve it (its requester too), audited `denied` on the refund with
     * nothing written to it.
     */
    checkRejectable: async (ctx: CallContext, id: string): Promise<RefundRecord> => {
      const { kv, clock } = parts.deps;
      const first = (await loadAwaiting(kv, id, clock.now(), ctx)).value;
      const refused = await deciderRefusal(kv, first, ctx, false);
      if (refused) {
        await denied(parts, ctx, first, refused.reason, "refund.reject");
        throw refused.error;
      }
      return first;
    },
    /** Still awaiting a decision (404/409): what a rejection that lost its commit checks. */
    checkAwaiting: async (ctx: CallContext, id: string): Promise<RefundRecord> =>
      (await loadAwaiting(parts.deps.kv, id, parts.deps.clock.now(), ctx)).value,
  };
}
