/**
 * Deciding on a two-person request. Approving claims the request in one
 * commit (its versionstamp checked, so a burst of approvals claims once),
 * then runs the kind's executor exactly once, as the approver, and records
 * how it went. The same decision again by the same person is answered, not
 * redone; every refusal is audited as denied. Kinds whose record lives in
 * their own domain (refunds) are decided by their source.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { ApprovalKind, ApprovalRequest } from "../../domain/approval.ts";
import { addUpdateApproval, getApproval } from "../../kv/approvals.ts";
import { checkApprover } from "./rules.ts";
import type {
  ApprovalServices,
  ApprovalSource,
  DecisionBody,
  DecisionResult,
  KindRegistration,
} from "./types.ts";

/** The queue's state the decisions work with. */
export interface Queue {
  deps: Deps;
  svc: ApprovalServices;
  kinds: Map<ApprovalKind, KindRegistration>;
  registration(kind: string): KindRegistration;
}

const target = (id: string) => ({ type: "approval", id });

export async function load(kv: Deno.Kv, id: string): Promise<Deno.KvEntry<ApprovalRequest>> {
  const entry = await getApproval(kv, id);
  if (!entry.value) throw notFound("approval request", id);
  return entry as Deno.KvEntry<ApprovalRequest>;
}

function sourceOf(q: Queue, id: string): ApprovalSource | null {
  for (const reg of q.kinds.values()) {
    if (reg.source && id.startsWith(reg.source.idPrefix)) return reg.source;
  }
  return null;
}

async function deny(
  q: Queue,
  ctx: CallContext,
  req: ApprovalRequest,
  error: AppError,
  reason: string,
) {
  await q.svc.audit.record(ctx, {
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
    { extra: { status: req.status } },
  );
}

/**
 * Moves a pending request to `status` (the decision) in one audited commit;
 * answers the request as it then is and whether this call made the decision.
 */
async function commitDecision(
  q: Queue,
  ctx: CallContext,
  id: string,
  decision: { status: "approved" | "rejected"; action: string; note?: string },
): Promise<{ request: ApprovalRequest; won: boolean }> {
  let won = false;
  const request = await q.svc.audit.commit(ctx, async (op) => {
    won = false;
    const entry = await load(q.deps.kv, id);
    if (entry.value.status !== "pending") return { value: entry.value, audit: [] };
    const next: ApprovalRequest = {
      ...entry.value,
      status: decision.status,
      decided_by: ctx.actor.id,
      decided_at: new Date(q.deps.clock.now()).toISOString(),
      decision_note: decision.note?.trim() || null,
    };
    addUpdateApproval(op, entry, next);
    won = true;
    const after = { kind: next.kind, requested_by: next.requested_by };
    return {
      value: next,
      audit: [{
        action: decision.action,
        target: target(id),
        result: "ok",
        after: decision.status === "approved" ? { ...after, summary: next.summary } : after,
        reason: next.decision_note,
      }],
    };
  });
  return { request, won };
}

/**
 * The start of a decision: a source's request is decided by its source, a
 * request already decided is answered as `decided` says; else the pending one.
 */
async function open(
  q: Queue,
  ctx: CallContext,
  id: string,
  body: DecisionBody,
  approving: boolean,
): Promise<{ answer: DecisionResult } | { pending: ApprovalRequest }> {
  const source = sourceOf(q, id);
  if (source) {
    const outcome = approving
      ? await source.approve(ctx, id, body)
      : await source.reject(ctx, id, body);
    return { answer: { request: null, outcome, replayed: false } };
  }
  const first = (await load(q.deps.kv, id)).value;
  if (first.status !== "pending") return { answer: decided(first, ctx, approving) };
  return { pending: first };
}

export async function approveRequest(
  q: Queue,
  ctx: CallContext,
  id: string,
  body: DecisionBody = {},
): Promise<DecisionResult> {
  const opened = await open(q, ctx, id, body, true);
  if ("answer" in opened) return opened.answer;
  const first = opened.pending;
  const refusal = await checkApprover(q.deps.kv, first, ctx, body);
  if (refusal) await deny(q, ctx, first, refusal.error, refusal.reason);
  if (Date.parse(first.expires_at) <= q.deps.clock.now()) {
    await expire(q, ctx, first.id);
    throw new AppError(
      "conflict",
      `approval request ${id} expired at ${first.expires_at}; ask again`,
    );
  }
  const claim = await commitDecision(q, ctx, id, {
    status: "approved",
    action: "approval.approve",
    note: body.note,
  });
  // Lost the claim to a concurrent decision: answer with it (no second execution).
  if (!claim.won) return decided(claim.request, ctx, true);
  return { request: await run(q, ctx, claim.request), replayed: false };
}

/** Runs the kind's executor once and records how it went. */
async function run(q: Queue, ctx: CallContext, claimed: ApprovalRequest): Promise<ApprovalRequest> {
  const reg = q.registration(claimed.kind);
  let result: Record<string, unknown> | null = null;
  let error: string | null = null;
  let handover: unknown = undefined;
  try {
    // `handover` (an enrollment code for someone else) is answered once, never stored
    const { handover: h, ...rest } = (await reg.execute!(q.deps, claimed, ctx)) ?? {};
    result = rest;
    handover = h;
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
    if (!(e instanceof AppError)) q.deps.log.error("approved action failed", { error: e });
  }
  const done = await q.svc.audit.commit(ctx, async (op) => {
    const entry = await load(q.deps.kv, claimed.id);
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

export async function rejectRequest(
  q: Queue,
  ctx: CallContext,
  id: string,
  body: DecisionBody = {},
): Promise<DecisionResult> {
  const opened = await open(q, ctx, id, body, false);
  if ("answer" in opened) return opened.answer;
  const { request: value } = await commitDecision(q, ctx, id, {
    status: "rejected",
    action: "approval.reject",
    note: body.note,
  });
  if (value.status !== "rejected" || value.decided_by !== ctx.actor.id) {
    return decided(value, ctx, false);
  }
  return { request: value, replayed: false };
}

async function expire(q: Queue, ctx: CallContext, id: string): Promise<void> {
  await q.svc.audit.commit(ctx, async (op) => {
    const entry = await load(q.deps.kv, id);
    if (entry.value.status !== "pending") return { value: null, audit: [] };
    addUpdateApproval(op, entry, { ...entry.value, status: "expired" });
    return {
      value: null,
      audit: [{ action: "approval.expire", target: target(id), result: "ok" }],
    };
  });
}
