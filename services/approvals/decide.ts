/**
 * Deciding two-person requests: who may approve (services/approvals/rules.ts),
 * the claim in one compare-and-set (a burst of approvals executes once), the
 * execution and its record (transitions.ts); rejection and expiry. Every
 * refusal is audited.
 */
import type { Deps } from "../deps.ts";
import { byWhom, type CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { can } from "../../domain/permissions.ts";
import { APPROVAL_POLICY, type ApprovalRequest, isApprovalKind } from "../../domain/approval.ts";
import { checkApprover, linkRefusal, type Refusal } from "./rules.ts";
import {
  approvalTarget,
  claim,
  type Decider,
  expire,
  load,
  recordAbout,
  run,
} from "./transitions.ts";
import type {
  ApprovalServices,
  ApprovalSource,
  DecisionBody,
  DecisionResult,
  KindRegistration,
} from "./types.ts";

export function createDecisions(
  deps: Deps,
  svc: ApprovalServices,
  registration: (kind: string) => KindRegistration,
  sourceOf: (id: string) => ApprovalSource | null,
  historyOf: (kind: string) => KindRegistration["history"],
) {
  const d: Decider = { deps, svc, registration, historyOf, sourceOf };
  return {
    load: (id: string) => load(d, id),
    approve: (ctx: CallContext, id: string, body: DecisionBody = {}) =>
      decide(d, ctx, id, body, true),
    reject: (ctx: CallContext, id: string, body: DecisionBody = {}) =>
      decide(d, ctx, id, body, false),
  };
}

/** A refused decision is an audit entry with `result: denied` before the refusal is thrown. */
async function deny(
  d: Decider,
  ctx: CallContext,
  req: ApprovalRequest,
  error: AppError,
  reason: string,
  approving = true,
): Promise<never> {
  await recordAbout(d, ctx, req, {
    action: approving ? "approval.approve" : "approval.reject",
    target: approvalTarget(req.id),
    result: "denied",
    reason,
    after: { kind: req.kind, requested_by: req.requested_by, summary: req.summary },
  });
  throw error;
}

/**
 * A request someone already decided: the same decision again by whoever made
 * it is answered, not redone; any other is refused (409), audited denied.
 */
async function decided(
  d: Decider,
  req: ApprovalRequest,
  ctx: CallContext,
  approving: boolean,
): Promise<DecisionResult> {
  const same = approving
    ? ["approved", "executed", "failed"].includes(req.status)
    : req.status === "rejected";
  if (same && req.decided_by === ctx.actor.id) return { request: req, replayed: true };
  const reason = `approval request ${req.id} is ${req.status}` +
    (req.decided_by ? ` (decided ${byWhom(req.decided_by, req.decided_at, ctx)})` : "") +
    "; only a pending request can be decided";
  const error = new AppError("conflict", reason, { extra: { request_status: req.status } });
  return await deny(d, ctx, req, error, reason, approving);
}

/** Past its deadline (or void): ended `expired` now, and the attempt refused, audited denied. */
async function refuseExpired(
  d: Decider,
  ctx: CallContext,
  req: ApprovalRequest,
  message: string,
  approving: boolean,
  voidReason?: string,
): Promise<never> {
  await expire(d, ctx, req.id, voidReason);
  const error = new AppError("conflict", message, { extra: { request_status: "expired" } });
  return await deny(d, ctx, req, error, message, approving);
}

/** A request its kind can no longer carry out: ended `expired` now, the approval refused. */
async function refuseUnfit(
  d: Decider,
  ctx: CallContext,
  req: ApprovalRequest,
  why: AppError,
): Promise<never> {
  await expire(d, ctx, req.id, why.message);
  const error = new AppError(
    why.code,
    `approval request ${req.id} is void: ${why.message}; it expired and nothing was approved`,
    { extra: { ...why.extra, request_status: "expired" } },
  );
  return await deny(d, ctx, req, error, why.message, true);
}

/**
 * A source's own request is decided by the source; one already decided is
 * answered, not redone; a pending one is returned to decide.
 */
async function answerOrLoad(
  d: Decider,
  ctx: CallContext,
  id: string,
  body: DecisionBody,
  approving: boolean,
): Promise<{ answer: DecisionResult } | { pending: ApprovalRequest }> {
  const source = d.sourceOf(id);
  if (source) {
    const { outcome, replayed } = approving
      ? await source.approve(ctx, id, body)
      : await source.reject(ctx, id, body);
    return { answer: { request: null, outcome, replayed } };
  }
  const first = (await load(d, id)).value;
  if (first.status !== "pending") return { answer: await decided(d, first, ctx, approving) };
  return { pending: first };
}

/** One decision on a pending request (not a source's). */
type Decision = (
  d: Decider,
  ctx: CallContext,
  first: ApprovalRequest,
  body: DecisionBody,
) => Promise<DecisionResult>;

/** Approves or rejects: a source's request, or one already decided, is answered first. */
async function decide(
  d: Decider,
  ctx: CallContext,
  id: string,
  body: DecisionBody,
  approving: boolean,
): Promise<DecisionResult> {
  const early = await answerOrLoad(d, ctx, id, body, approving);
  if ("answer" in early) return early.answer;
  return approving
    ? await approve(d, ctx, early.pending, body)
    : await reject(d, ctx, early.pending, body);
}

const approve: Decision = async (d, ctx, first, body) => {
  const id = first.id;
  const refusal = await checkApprover(d.deps.kv, first, ctx, body);
  if (refusal) await deny(d, ctx, first, refusal.error, refusal.reason);
  if (Date.parse(first.expires_at) <= d.deps.clock.now()) {
    const message = `approval request ${id} expired at ${first.expires_at}; ask again`;
    return await refuseExpired(d, ctx, first, message, true);
  }
  // what the kind itself says can no longer be done (services/approvals/types.ts)
  const unfit = await d.registration(first.kind).refuseApproval?.(first);
  if (unfit) return await refuseUnfit(d, ctx, first, unfit);
  const { won, value: claimed, voidReason } = await claim(d, ctx, id, body, "approved");
  if (voidReason) {
    const message =
      `approval request ${id} is void: ${voidReason}; it expired and nothing was approved`;
    return await refuseExpired(d, ctx, first, message, true, voidReason);
  }
  // Lost the claim to a concurrent decision: answer with it (no second execution).
  if (!won) return await decided(d, claimed, ctx, true);
  return { request: await run(d, ctx, claimed), replayed: false };
};

/** A refusal to approve, said of a reject: nobody who could not approve a request rejects it. */
function rejectWords(refusal: Refusal): AppError {
  const why = refusal.error.extra?.rule === "linked_account"
    ? refusal.reason
    : "this request acts on your own account";
  return new AppError(
    "self_approval_forbidden",
    `${why}; you may not reject it, as you may not approve it: someone linked neither to its ` +
      "requester nor to an account it acts on decides it (or its requester withdraws it); " +
      "nothing was rejected",
    { extra: refusal.error.extra },
  );
}

const reject: Decision = async (d, ctx, first, body) => {
  const id = first.id;
  // the requester withdraws; anyone else needs the permission an approver needs (a refund is
  // decided by its source, where the requester may not reject it: README, "Two-person rules")
  const policy = isApprovalKind(first.kind) ? APPROVAL_POLICY[first.kind] : null;
  if (
    first.requested_by !== ctx.actor.id &&
    (!policy || !can(ctx.actor.role ?? "", policy.approverPermission))
  ) {
    const reason = `role ${ctx.actor.role} cannot decide ${first.kind}`;
    await recordAbout(d, ctx, first, {
      action: "approval.reject",
      target: approvalTarget(first.id),
      result: "denied",
      reason,
    });
    throw new AppError("forbidden", `${reason}: it needs ${policy?.approverPermission}`);
  }
  // nor is anyone else the admin the request acts on, or linked to it or the requester: the
  // target of a disable or a credential reset would otherwise veto it (README, "Two-person rules")
  const linked = first.requested_by === ctx.actor.id
    ? null
    : await linkRefusal(d.deps.kv, first, ctx);
  if (linked) await deny(d, ctx, first, rejectWords(linked), linked.reason, false);
  if (Date.parse(first.expires_at) <= d.deps.clock.now()) {
    // past its time it is expired, not rejected: there is nothing left to refuse
    const message = `approval request ${id} expired at ${first.expires_at}; nothing is left ` +
      "to reject";
    return await refuseExpired(d, ctx, first, message, false);
  }
  const { value } = await claim(d, ctx, id, body, "rejected");
  if (value.status !== "rejected" || value.decided_by !== ctx.actor.id) {
    return await decided(d, value, ctx, false);
  }
  return { request: value, replayed: false };
};
