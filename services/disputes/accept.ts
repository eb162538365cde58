/**
 * Accepting a dispute: closing it at Stripe, which concedes it as lost. The
 * decision is recorded (audited, with the operator's note) before Stripe is
 * called, and the call is keyed by the dispute, so a retry or a second click
 * is one close at Stripe. At or above the refund approval threshold (per
 * currency) one person cannot do it alone: the accept becomes a
 * `dispute.accept` request in the approvals queue (services/approvals/), and
 * the close runs once a second person approves it there; so does an accept
 * of a dispute seen before its payment, whose customer and card are not known
 * (services/disputes/accept_sum.ts). The close is recorded `processing` in the
 * go-ahead's commit (services/disputes/close.ts): an unknown outcome stays
 * pending until Stripe's answer, its webhook or the reconciliation job
 * settles it.
 */
import type { Deps } from "../deps.ts";
import type { AuditInput, AuditService } from "../audit/mod.ts";
import type { ApprovalRequest, ApprovalService } from "../approvals/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { notFound } from "../../core/errors.ts";
import { type DisputeRecord, withDisputeHistory } from "../../domain/dispute.ts";
import { addUpdateDispute, getDispute } from "../../kv/disputes.ts";
import { getApproval } from "../../kv/approvals.ts";
import { addAcceptMark } from "../../kv/dispute_accepts.ts";
import { acceptSum, addAcceptRequest } from "./accept_sum.ts";
import type { DisputeApplier } from "./apply.ts";
import { addClosing, createDisputeCloser } from "./close.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import { auditingRefusals, DisputeRefusal, refused } from "./refusals.ts";
import { acceptRefusal, sameAccept } from "./accept_rules.ts";

/** The decision's commit: the record after it; `again` when it was this operator's own again. */
interface Decision {
  record: DisputeRecord;
  request: ApprovalRequest | null;
  again: boolean;
}

export type AcceptOutcome =
  | { kind: "closed"; record: DisputeRecord }
  /** sent to Stripe with an unknown outcome; reconciliation or the webhook settles it */
  | { kind: "processing"; record: DisputeRecord }
  | { kind: "awaiting_approval"; record: DisputeRecord; approval: ApprovalRequest };

/** The dispute's accept request still waiting in the queue (not decided, not expired). */
async function pendingApproval(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  r: DisputeRecord,
  now: number,
): Promise<boolean> {
  const id = r.accept_request?.approval_id;
  if (!id) return false;
  const entry = await getApproval(kv, id);
  op.check(entry);
  return entry.value?.status === "pending" && Date.parse(entry.value.expires_at) > now;
}

/**
 * The last accept request, which the dispute keeps showing with its state in
 * the queue (README, "Dispute workbench": `executed`, `rejected`, …): a new
 * request, the approved one being executed, or the one before.
 */
function lastRequest(
  r: DisputeRecord,
  request: ApprovalRequest | null,
  approved: ApprovalRequest | null,
): DisputeRecord["accept_request"] {
  const shown = request ?? approved;
  if (!shown) return r.accept_request ?? null;
  if (r.accept_request?.approval_id === shown.id) return r.accept_request;
  const { note } = shown.payload as { note: string };
  return {
    requested_by: shown.requested_by,
    note,
    requested_at: shown.created_at,
    approval_id: shown.id,
  };
}

/** The refusal while the dispute's accept request waits for a second person. */
function waiting(r: DisputeRecord): DisputeRefusal {
  const q = r.accept_request!;
  return new DisputeRefusal(
    "conflict",
    `accepting dispute ${r.id} already waits for a second person: request ${q.approval_id} ` +
      `by ${q.requested_by} at ${q.requested_at}: approve it or reject it with POST ` +
      `/api/admin/approvals/${q.approval_id}/approve or /reject (its requester may reject ` +
      `it to withdraw it) instead of accepting again`,
  );
}

/** The record after the decision, showing the last accept request. */
function decidedRecord(
  r: DisputeRecord,
  ctx: CallContext,
  note: string,
  at: string,
  request: ApprovalRequest | null,
  approved: ApprovalRequest | null,
): DisputeRecord {
  return {
    ...r,
    accept_request: lastRequest(r, request, approved),
    updated_at: at,
    history: withDisputeHistory(r, {
      at,
      by: ctx.actor.id,
      action: request ? "accept_requested" : "accept",
      changes: { note, ...(approved ? { approval_id: approved.id } : {}) },
    }),
  };
}

/** The go-ahead's audit entry (the close at Stripe follows it). */
function acceptAudit(r: DisputeRecord, note: string, approved: ApprovalRequest | null): AuditInput {
  return {
    action: "dispute.accept",
    target: { type: "dispute", id: r.id },
    result: "ok" as const,
    before: { status: r.status, phase: r.phase },
    after: {
      amount: r.amount,
      currency: r.currency,
      ...(approved ? { approval_id: approved.id, requested_by: approved.requested_by } : {}),
    },
    reason: note,
  };
}

export function createDisputeAccepts(
  deps: Deps,
  svc: {
    audit: AuditService;
    newId: IdFactory;
    applyDispute: DisputeApplier;
    approvals?: ApprovalService;
  },
) {
  const { kv, clock, config } = deps;
  const closer = createDisputeCloser(deps, svc);

  /** The decision, audited: a request in the approvals queue, or the go-ahead. */
  function decide(
    ctx: CallContext,
    id: string,
    note: string,
    approved: ApprovalRequest | null,
    binding: IdempotencyBinding | null = null,
  ): Promise<Decision> {
    return svc.audit.commit<Decision>(
      ctx,
      async (op) => {
        const entry = await getDispute(kv, id);
        const r = entry.value;
        if (!r) throw notFound("dispute", id);
        const now = clock.now();
        const same = approved ? null : await sameAccept(kv, r, ctx, note, now);
        if (same) {
          const request = same.again === "waiting" ? same.approval : null;
          return { value: { record: r, request, again: true }, audit: [] };
        }
        const refusal = acceptRefusal(r, ctx);
        if (refusal) throw refused(id, refusal);
        const at = new Date(now).toISOString();
        // the same operator's accepts of this customer's (or this card's) disputes in 24 h count
        // too; a payer not known yet cannot be added up (services/disputes/accept_sum.ts)
        const sum = await acceptSum(kv, config, r, ctx.actor.id, now);
        const needsTwo = !approved && svc.approvals !== undefined && sum.needsTwo;
        // whoever accepts, a waiting request is decided in the queue, never gone around
        if (!approved && await pendingApproval(kv, op, r, now)) throw waiting(r);
        const request = needsTwo ? addAcceptRequest(svc.approvals!, op, r, ctx, note, sum) : null;
        if (!request && !approved) {
          const { subject, card } = sum.payer;
          addAcceptMark(op, ctx.actor.id, sum.tally, {
            at: now,
            dispute: id,
            subject,
            card,
            currency: r.currency,
            amount: r.amount,
          });
        }
        const next = decidedRecord(r, ctx, note, at, request?.request ?? null, approved);
        if (!request) {
          const go = { by: ctx.actor.id, at, approvalId: approved?.id ?? null };
          next.closing = addClosing(deps, svc.newId, op, r, go);
        }
        addUpdateDispute(op, entry as Deno.KvEntry<DisputeRecord>, next);
        await binding?.bind(op, id);
        if (request) {
          // the request's entry targets it (`apr_…`); its twin puts it in the dispute's history
          return {
            value: { record: next, request: request.request, again: false },
            audit: svc.approvals!.entriesAbout(request.request, request.audit),
          };
        }
        return {
          value: { record: next, request: null, again: false },
          audit: [acceptAudit(r, note, approved)],
        };
      },
    );
  }

  /** Closes at Stripe: `closed`, or `processing` while Stripe's answer is unknown. */
  async function close(ctx: CallContext, r: DisputeRecord) {
    const record = await closer.close(ctx, r);
    const kind = record.closing?.state === "processing" ? "processing" as const : "closed" as const;
    return { kind, record };
  }

  /** POST /disputes/{id}/accept. */
  async function accept(
    ctx: CallContext,
    id: string,
    note: string,
    binding: IdempotencyBinding | null = null,
  ): Promise<AcceptOutcome> {
    const what = { action: "dispute.accept", id };
    const decided = await auditingRefusals(
      svc.audit,
      ctx,
      what,
      () => decide(ctx, id, note, null, binding),
    );
    if (decided.request) {
      return { kind: "awaiting_approval", record: decided.record, approval: decided.request };
    }
    if (decided.again) {
      // the close this operator's first accept started: never sent to Stripe again from here
      const record = decided.record;
      const kind = record.closing?.state === "processing"
        ? "processing" as const
        : "closed" as const;
      return { kind, record };
    }
    return await close(ctx, decided.record);
  }

  /**
   * The approvals queue's executor for `dispute.accept`: runs once, as the
   * approver. A refusal throws (the request fails); an unknown outcome answers
   * `closing: "processing"`, never a failure, since Stripe may have closed it.
   */
  async function executeApproved(ctx: CallContext, request: ApprovalRequest) {
    const { dispute_id, note } = request.payload as { dispute_id: string; note: string };
    const decided = await decide(ctx, dispute_id, note, request);
    const { record } = await close(ctx, decided.record);
    return {
      dispute_id,
      status: record.status,
      phase: record.phase,
      closing: record.closing?.state ?? null,
    };
  }

  return { accept, executeApproved, reconcileClose: closer.reconcileOne };
}
