/**
 * Refunds awaiting approval in the one approvals queue: the refund record is
 * the request (its own routes stay); the queue lists them and hands the
 * decision to the refund service, which applies the same rules.
 */
import type { ApprovalRequest, ApprovalSource } from "../approvals/mod.ts";
import type { RefundService, RefundView } from "./service.ts";

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
      approval_reasons: r.approval.reasons,
    },
    summary: `refund ${r.amount} ${r.currency} on ${r.transaction_id} (${
      r.approval.reasons.join(", ")
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

export function refundApprovalSource(refunds: RefundService): ApprovalSource {
  return {
    idPrefix: "rfd_",
    async pending(limit) {
      return (await refunds.awaitingApproval(limit)).map(refundAsApproval);
    },
    async approve(ctx, id, body) {
      return (await refunds.approve(ctx, id, body)).refund;
    },
    async reject(ctx, id, body) {
      return (await refunds.reject(ctx, id, { note: body.note ?? "" })).refund;
    },
  };
}
