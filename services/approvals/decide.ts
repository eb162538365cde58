/**
 * Deciding two-person requests: who may approve (services/approvals/rules.ts),
 * the claim in one compare-and-set (a burst of approvals executes once), the
 * execution and its record; rejection and expiry. Every refusal is audited.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, notFound } from "../../core/errors.ts";
import { can } from "../../domain/permissions.ts";
import { APPROVAL_POLICY, type ApprovalRequest, isApprovalKind } from "../../domain/approval.ts";
import { addUpdateApproval, getApproval } from "../../kv/approvals.ts";
import { getAdmin } from "../../kv/admins.ts";
import { checkApprover, requesterNeeds, requesterVoid, targetVoid } from "./rules.ts";
import type {
  ApprovalServices,
  ApprovalSource,
  DecisionBody,
  DecisionResult,
  KindRegistration,
} from "./types.ts";

const target = (id: string) => ({ type: "approval", id });

/** What every step of a decision works with. */
interface Decider {
  deps: Deps;
  svc: ApprovalServices;
  registration: (kind: string) => KindRegistration;
  sourceOf: (id: string) => ApprovalSource | null;
}

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

async function load(d: Decider, id: string): Promise<Deno.KvEntry<ApprovalRequest>> {
  const entry = await getApproval(d.deps.kv, id);
  if (!entry.value) throw notFound("approval request", id);
  return entry as Deno.KvEntry<ApprovalRequest>;
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
    target: target(req.id),
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

/**
 * Claims a pending request for one decision in one compare-and-set; `won` is
 * false when a concurrent decision got there first (its request is returned).
 * An approval also checks the requester's record in that commit: a disabled
 * requester's request is not claimed (`voidReason` says why); nor is one about
 * an admin whose record changed since it was asked for.
 */
async function claim(
  d: Decider,
  ctx: CallContext,
  id: string,
  body: DecisionBody,
  status: "approved" | "rejected",
): Promise<{ won: boolean; value: ApprovalRequest; voidReason?: string }> {
  let won = false;
  let voidReason: string | null = null;
  const value = await d.svc.audit.commit(ctx, async (op) => {
    won = false;
    voidReason = null;
    const entry = await load(d, id);
    if (entry.value.status !== "pending") return { value: entry.value, audit: [] };
    if (status === "approved") {
      const requester = await getAdmin(d.deps.kv, entry.value.requested_by);
      voidReason = requesterVoid(entry.value, requester.value, requesterNeeds(entry.value.kind));
      if (voidReason) return { value: entry.value, audit: [] };
      op.check(requester);
      // a request about an admin who changed since is void too
      const about = entry.value.target?.type === "admin"
        ? await getAdmin(d.deps.kv, entry.value.target.id)
        : null;
      voidReason = about ? targetVoid(entry.value, about) : null;
      if (voidReason) return { value: entry.value, audit: [] };
      if (about) op.check(about);
    }
    const next: ApprovalRequest = {
      ...entry.value,
      status,
      decided_by: ctx.actor.id,
      decided_at: new Date(d.deps.clock.now()).toISOString(),
      decision_note: body.note?.trim() || null,
    };
    addUpdateApproval(op, entry, next);
    won = true;
    const approving = status === "approved";
    return {
      value: next,
      audit: [{
        action: approving ? "approval.approve" : "approval.reject",
        target: target(id),
        result: "ok",
        after: approving
          ? { kind: next.kind, requested_by: next.requested_by, summary: next.summary }
          : { kind: next.kind, requested_by: next.requested_by },
        reason: next.decision_note,
      }],
    };
  });
  return { won, value, ...(voidReason ? { voidReason } : {}) };
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

/** Runs the kind's executor once and records how it went. */
async function run(
  d: Decider,
  ctx: CallContext,
  claimed: ApprovalRequest,
): Promise<ApprovalRequest> {
  const reg = d.registration(claimed.kind);
  let result: Record<string, unknown> | null = null;
  let error: string | null = null;
  let handover: unknown = undefined;
  try {
    // `handover` (an enrollment code for someone else) is answered once, never stored
    const { handover: h, ...rest } = (await reg.execute!(d.deps, claimed, ctx)) ?? {};
    result = rest;
    handover = h;
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
    if (!(e instanceof AppError)) d.deps.log.error("approved action failed", { error: e });
  }
  const done = await d.svc.audit.commit(ctx, async (op) => {
    const entry = await load(d, claimed.id);
    const next: ApprovalRequest = {
      ...entry.value,
      status: error === null ? "executed" : "failed",
      result,
      error,
    };
    addUpdateApproval(op, entry, next);
    return {
      value: next,
      audit: [{
        action: "approval.execute",
        target: target(claimed.id),
        result: error === null ? "ok" : "failed",
        after: { kind: next.kind, result },
        reason: error,
      }],
    };
  });
  return handover ? { ...done, handover: handover as Record<string, unknown> } : done;
}

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
      target: target(first.id),
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

async function expire(d: Decider, ctx: CallContext, id: string, reason?: string): Promise<void> {
  await d.svc.audit.commit(ctx, async (op) => {
    const entry = await load(d, id);
    if (entry.value.status !== "pending") return { value: null, audit: [] };
    addUpdateApproval(op, entry, {
      ...entry.value,
      status: "expired",
      ...(reason ? { error: reason } : {}),
    });
    return {
      value: null,
      audit: [{ action: "approval.expire", target: target(id), result: "ok", reason }],
    };
  });
}
