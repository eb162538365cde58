/**
 * Refunds awaiting approval in the one approvals queue: the refund record is
 * the request (its own routes stay); the queue lists them and hands the
 * decision to the refund service, which applies the same rules. Deciding
 * again what you decided answers that decision (`replayed: true`), as the
 * queue does for its own requests (README, "Two-person rules").
 */
import type { ApprovalRequest, ApprovalSource } from "../approvals/mod.ts";
import { AppError } from "../../core/errors.ts";
import { formatMoney } from "../../domain/money.ts";
import type { RefundDetail, RefundService, RefundView } from "./service.ts";
import { approvalHashRequired } from "./decisions.ts";

export function refundAsApproval(r: RefundView): ApprovalRequest {
  return {
    id: r.id,
    kind: "refund.approve",
    // past its deadline it lists as expired (README, "Two-person rules")
    status: r.status === "expired" ? "expired" : "pending",
    payload: {
      transaction_id: r.transaction_id,
      amount: r.amount,
      currency: r.currency,
      reason: r.reason,
      note: r.note,
      approval_reasons: r.approval.reasons,
    },
    summary: `refund ${formatMoney(r.amount, r.currency)} on ${r.transaction_id} (${
      r.approval.detail ?? r.approval.reasons.join(", ")
    })`,
    target: { type: "refund", id: r.id },
    requested_by: r.requested_by,
    approval_hash: r.approval.hash ?? "",
    created_at: r.created_at,
    expires_at: r.approval.expires_at ?? r.created_at,
    decided_by: null,
    decided_at: null,
    decision_note: null,
    result: null,
    error: null,
  };
}

/**
 * Decides through the refund service, which answers a decision `ctx` had
 * already made as replayed (decided.ts), as `POST /refunds/{id}/approve`
 * and `reject` do.
 */
async function decideOnce(
  decide: () => Promise<{ refund: RefundDetail; replayed: boolean }>,
): Promise<{ outcome: RefundDetail; replayed: boolean }> {
  const { refund, replayed } = await decide();
  return { outcome: refund, replayed };
}

export function refundApprovalSource(refunds: RefundService): ApprovalSource {
  return {
    idPrefix: "rfd_",
    async pending(limit) {
      return (await refunds.awaitingApproval(limit)).map(refundAsApproval);
    },
    async one(id) {
      let r: RefundDetail;
      try {
        r = await refunds.get(id);
      } catch (error) {
        if (error instanceof AppError && error.code === "not_found") return null;
        throw error;
      }
      // a refund that never waited for a second person is not a request
      if (r.approval.reasons.length === 0) return null;
      const request = refundAsApproval(r);
      if (r.status === "awaiting_approval" || r.status === "expired") return request;
      const rejected = r.rejected_by !== null;
      return {
        ...request,
        status: rejected ? "rejected" : r.approved_by ? "executed" : "expired",
        decided_by: rejected ? r.rejected_by : r.approved_by,
        decision_note: r.decision_note,
        result: rejected ? null : { refund_status: r.status },
      };
    },
    // the refund's own rule: approved by the hash of what was read (README, "Two-person rules")
    approveBodyErrors(id, body) {
      return body.approval_hash ? [] : [approvalHashRequired(id)];
    },
    approve(ctx, id, body) {
      return decideOnce(() => refunds.approve(ctx, id, body));
    },
    reject(ctx, id, body) {
      return decideOnce(() => refunds.reject(ctx, id, { note: body.note ?? "" }));
    },
  };
}
