/**
 * Deciding two-person requests: who may approve (services/approvals/rules.ts),
 * the claim in one compare-and-set (a burst of approvals executes once), the
 * execution and its record (transitions.ts); rejection and expiry. Every
 * refusal is audited.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { can } from "../../domain/permissions.ts";
import { APPROVAL_POLICY, type ApprovalRequest, isApprovalKind } from "../../domain/approval.ts";
import { checkApprover } from "./rules.ts";
import { approvalTarget, claim, type Decider, expire, load, run } from "./transitions.ts";
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
) {
  const d: Decider = { deps, svc, registration, sourceOf };
  return {
    load: (id: string) => load(d, id),
    approve: (ctx: CallContext, id: string, body: DecisionBody = {}) =>
      decide(d, ctx, id, body, true),
    reject: (ctx: CallContext, id: string, body: DecisionBody = {}) =>
      decide(d, ctx, id, body, false),
  };
}

async function deny(
  d: Decider,
  ctx: CallContext,
  req: ApprovalRequest,
  error: AppError,
  reason: string,
) {
  await d.svc.audit.record(ctx, {
    action: "approval.approve",
    target: approvalTarget(req.id),
    result: "denied",
    reason,
    after: { kind: req.kind, requested_by: req.requested_by, summary: req.summary },
  });
  throw error;
}

/** A request someone already decided: the same decision again is answered, not redone. */
function decided(req: ApprovalRequest, ctx: CallContext, approving: boolean): DecisionResult {
  const same = approving
    ? ["approved", "executed", "failed"].includes(req.status)
    : req.status === "rejected";
  if (same && req.decided_by === ctx.actor.id) return { request: req, replayed: true };
  throw new AppError(
    "conflict",
    `approval request ${req.id} is ${req.status}` +
      (req.decided_by ? ` (decided by ${req.decided_by})` : "") +
      "; only a pending request can be decided",
    { extra: { request_status: req.status } },
  );
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
  if (first.status !== "pending") return { answer: decided(first, ctx, approving) };
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
    await expire(d, ctx, first.id);
    throw new AppError(
      "conflict",
      `approval request ${id} expired at ${first.expires_at}; ask again`,
      { extra: { request_status: "expired" } },
    );
  }
  const { won, value: claimed, voidReason } = await claim(d, ctx, id, body, "approved");
  if (voidReason) {
    await expire(d, ctx, id, voidReason);
    throw new AppError(
      "conflict",
      `approval request ${id} is void: ${voidReason}; it expired and nothing was approved`,
      { extra: { request_status: "expired" } },
    );
  }
  // Lost the claim to a concurrent decision: answer with it (no second execution).
  if (!won) return decided(claimed, ctx, true);
  return { request: await run(d, ctx, claimed), replayed: false };
};

const reject: Decision = async (d, ctx, first, body) => {
  const id = first.id;
  // the requester withdraws; anyone else needs the permission an approver needs
  const policy = isApprovalKind(first.kind) ? APPROVAL_POLICY[first.kind] : null;
  if (
    first.requested_by !== ctx.actor.id &&
    (!policy || !can(ctx.actor.role ?? "", policy.approverPermission))
  ) {
    const reason = `role ${ctx.actor.role} cannot decide ${first.kind}`;
    await d.svc.audit.record(ctx, {
      action: "approval.reject",
      target: approvalTarget(first.id),
      result: "denied",
      reason,
    });
    throw new AppError("forbidden", `${reason}: it needs ${policy?.approverPermission}`);
  }
  if (Date.parse(first.expires_at) <= d.deps.clock.now()) {
    // past its time it is expired, not rejected: there is nothing left to refuse
    await expire(d, ctx, first.id);
    throw new AppError(
      "conflict",
      `approval request ${id} expired at ${first.expires_at}; nothing is left to reject`,
      { extra: { request_status: "expired" } },
    );
  }
  const { value } = await claim(d, ctx, id, body, "rejected");
  if (value.status !== "rejected" || value.decided_by !== ctx.actor.id) {
    return decided(value, ctx, false);
  }
  return { request: value, replayed: false };
};
