/**
 * The status changes of a two-person request, each in one audited commit:
 * the claim (pending → approved or rejected, one compare-and-set, so a burst
 * of decisions claims once), the run of an approved request (→ executed or
 * failed) and expiry (pending → expired). Who may make them is decided in
 * decide.ts.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { ApprovalRequest } from "../../domain/approval.ts";
import { addUpdateApproval, getApproval } from "../../kv/approvals.ts";
import { getAdmin } from "../../kv/admins.ts";
import { requesterNeeds, requesterVoid, targetVoid } from "./rules.ts";
import type { ApprovalServices, ApprovalSource, DecisionBody, KindRegistration } from "./types.ts";
import type { AuditInput } from "../audit/mod.ts";
import { withHistory } from "./history.ts";

/** The audit target of a request. */
export const approvalTarget = (id: string) => ({ type: "approval", id });

/**
 * The queue's entry about `request`, and its kind's entry in the history of
 * what the request acts on, when the kind keeps one (`KindRegistration.history`).
 */
export function entriesAbout(
  d: Decider,
  request: ApprovalRequest,
  entry: AuditInput,
): AuditInput[] {
  return withHistory(d.historyOf(request.kind), request, entry);
}

/** Records entries with no other change (a refused decision), in one commit. */
export async function recordAbout(
  d: Decider,
  ctx: CallContext,
  request: ApprovalRequest,
  entry: AuditInput,
): Promise<void> {
  const entries = entriesAbout(d, request, entry);
  if (entries.length === 1) return await d.svc.audit.record(ctx, entry);
  await d.svc.audit.commit(ctx, () => Promise.resolve({ value: null, audit: entries }));
}

/** What every step of a decision works with. */
export interface Decider {
  deps: Deps;
  svc: ApprovalServices;
  registration: (kind: string) => KindRegistration;
  /** the kind's `history`, when it is registered and keeps one */
  historyOf: (kind: string) => KindRegistration["history"];
  sourceOf: (id: string) => ApprovalSource | null;
}

export async function load(d: Decider, id: string): Promise<Deno.KvEntry<ApprovalRequest>> {
  const entry = await getApproval(d.deps.kv, id);
  if (!entry.value) throw notFound("approval request", id);
  return entry as Deno.KvEntry<ApprovalRequest>;
}

/**
 * Claims a pending request for one decision in one compare-and-set; `won` is
 * false when a concurrent decision got there first (its request is returned).
 * An approval also checks the requester's record in that commit: a disabled
 * requester's request is not claimed (`voidReason` says why); nor is one about
 * an admin whose record changed since it was asked for.
 */
export async function claim(
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
      audit: entriesAbout(d, next, {
        action: approving ? "approval.approve" : "approval.reject",
        target: approvalTarget(id),
        result: "ok",
        after: approving
          ? { kind: next.kind, requested_by: next.requested_by, summary: next.summary }
          : { kind: next.kind, requested_by: next.requested_by },
        reason: next.decision_note,
      }),
    };
  });
  return { won, value, ...(voidReason ? { voidReason } : {}) };
}

/** Runs the kind's executor once and records how it went. */
export async function run(
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
      audit: entriesAbout(d, next, {
        action: "approval.execute",
        target: approvalTarget(claimed.id),
        result: error === null ? "ok" : "failed",
        after: { kind: next.kind, result },
        reason: error,
      }),
    };
  });
  return handover ? { ...done, handover: handover as Record<string, unknown> } : done;
}

export async function expire(
  d: Decider,
  ctx: CallContext,
  id: string,
  reason?: string,
): Promise<void> {
  await d.svc.audit.commit(ctx, async (op) => {
    const entry = await load(d, id);
    if (entry.value.status !== "pending") return { value: null, audit: [] };
    const next: ApprovalRequest = {
      ...entry.value,
      status: "expired",
      ...(reason ? { error: reason } : {}),
    };
    addUpdateApproval(op, entry, next);
    return {
      value: null,
      audit: entriesAbout(d, next, {
        action: "approval.expire",
        target: approvalTarget(id),
        result: "ok",
        reason,
      }),
    };
  });
}
