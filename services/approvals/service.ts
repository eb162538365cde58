/**
 * One queue for every two-person request (README, "Two-person rules").
 *
 * A domain registers a kind once, against a name in the policy table
 * (domain/approval.ts `APPROVAL_POLICY`):
 *
 *   approvals.register("dispute.accept", { execute: (deps, request, ctx) => … });
 *
 * and asks for the action with `approvals.request(kind, payload, ctx, { summary, target })`,
 * which commits a pending request (with its audit entry) and returns it; the
 * route answers 202 with it. A second person approves it through
 * `POST /api/admin/approvals/{id}/approve`; the approval is claimed in one
 * commit (the request's versionstamp checked, so a burst of approvals claims
 * once) and `execute` then runs exactly once, as the approver.
 *
 * Kinds whose record lives in their own domain (refunds) register a `source`
 * instead: the queue lists theirs and hands decisions to them.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { AuditInput, AuditService } from "../audit/mod.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import {
  APPROVAL_POLICY,
  type ApprovalKind,
  type ApprovalPolicy,
  type ApprovalRequest,
  DEFAULT_APPROVAL_TTL_MS,
  isApprovalKind,
} from "../../domain/approval.ts";
import {
  addCreateApproval,
  addUpdateApproval,
  getApproval,
  listApprovalsByStatus,
} from "../../kv/approvals.ts";
import { approvalHashOf, checkApprover } from "./rules.ts";

/** What a kind does once approved. Returns what to show (never a secret) or nothing. */
export type ApprovalExecutor = (
  deps: Deps,
  request: ApprovalRequest,
  ctx: CallContext,
) => Promise<Record<string, unknown> | void>;

/** A kind whose requests live in their own domain (refunds awaiting approval). */
export interface ApprovalSource {
  /** ids of this source start with it (`rfd_`) */
  idPrefix: string;
  pending(limit: number): Promise<ApprovalRequest[]>;
  approve(ctx: CallContext, id: string, body: DecisionBody): Promise<unknown>;
  reject(ctx: CallContext, id: string, body: DecisionBody): Promise<unknown>;
}

export interface KindRegistration {
  /** overrides of the table's entry (a longer TTL, say); the approver permission stays */
  policy?: Partial<Pick<ApprovalPolicy, "ttlMs">>;
  execute?: ApprovalExecutor;
  source?: ApprovalSource;
}

export interface RequestOptions {
  /** one line for the approver: "accept dispute dsp_… (75,000 usd)" */
  summary: string;
  /** what the action changes; when it is an admin, that admin cannot approve */
  target?: { type: string; id: string } | null;
}

export interface DecisionBody {
  approval_hash?: string;
  note?: string;
}

export interface DecisionResult {
  request: ApprovalRequest | null;
  /** a source's own answer (the refund) */
  outcome?: unknown;
  /** this call found the decision already made by the same person */
  replayed: boolean;
}

export interface ApprovalServices {
  audit: AuditService;
  newId: IdFactory;
  cursors: CursorSealer;
}

const target = (id: string) => ({ type: "approval", id });

export function createApprovalService(deps: Deps, svc: ApprovalServices) {
  const { kv, clock } = deps;
  const kinds = new Map<ApprovalKind, KindRegistration>();

  function registration(kind: string): KindRegistration {
    const reg = isApprovalKind(kind) ? kinds.get(kind) : undefined;
    if (!reg) throw new Error(`approval kind ${kind} is not registered`);
    return reg;
  }

  function register(kind: ApprovalKind, reg: KindRegistration): void {
    if (!isApprovalKind(kind)) throw new Error(`${kind} is not in the approval policy table`);
    if (!reg.execute && !reg.source) throw new Error(`${kind}: give execute or source`);
    kinds.set(kind, reg);
  }

  /** Builds a pending request (not yet written) and its audit entry. */
  function build(
    kind: ApprovalKind,
    payload: Record<string, unknown>,
    ctx: CallContext,
    options: RequestOptions,
  ): { request: ApprovalRequest; audit: AuditInput } {
    const reg = registration(kind);
    const now = clock.now();
    const ttl = reg.policy?.ttlMs ?? DEFAULT_APPROVAL_TTL_MS;
    const base = { kind, payload, target: options.target ?? null };
    const request: ApprovalRequest = {
      id: svc.newId("apr"),
      ...base,
      status: "pending",
      summary: options.summary.slice(0, 300),
      requested_by: ctx.actor.id,
      approval_hash: approvalHashOf(base),
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + ttl).toISOString(),
      decided_by: null,
      decided_at: null,
      decision_note: null,
      result: null,
      error: null,
    };
    return {
      request,
      audit: {
        action: "approval.request",
        target: target(request.id),
        result: "ok",
        after: { kind, summary: request.summary, target: request.target, payload },
        reason: APPROVAL_POLICY[kind].description,
      },
    };
  }

  /**
   * For a domain already inside `audit.commit`: adds the pending request to
   * `op` and returns it with the audit entry to append.
   */
  function addRequest(
    op: Deno.AtomicOperation,
    kind: ApprovalKind,
    payload: Record<string, unknown>,
    ctx: CallContext,
    options: RequestOptions,
  ): { request: ApprovalRequest; audit: AuditInput } {
    const built = build(kind, payload, ctx, options);
    addCreateApproval(op, built.request);
    return built;
  }

  /** Commits a pending request of `kind` (with its audit entry) and returns it: answer 202. */
  function request(
    kind: ApprovalKind,
    payload: Record<string, unknown>,
    ctx: CallContext,
    options: RequestOptions,
  ): Promise<ApprovalRequest> {
    return svc.audit.commit(ctx, (op) => {
      const built = addRequest(op, kind, payload, ctx, options);
      return Promise.resolve({ value: built.request, audit: [built.audit] });
    });
  }

  function sourceOf(id: string): ApprovalSource | null {
    for (const reg of kinds.values()) {
      if (reg.source && id.startsWith(reg.source.idPrefix)) return reg.source;
    }
    return null;
  }

  async function load(id: string): Promise<Deno.KvEntry<ApprovalRequest>> {
    const entry = await getApproval(kv, id);
    if (!entry.value) throw notFound("approval request", id);
    return entry as Deno.KvEntry<ApprovalRequest>;
  }

  async function deny(ctx: CallContext, req: ApprovalRequest, error: AppError, reason: string) {
    await svc.audit.record(ctx, {
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

  async function approve(
    ctx: CallContext,
    id: string,
    body: DecisionBody = {},
  ): Promise<DecisionResult> {
    const source = sourceOf(id);
    if (source) {
      return { request: null, outcome: await source.approve(ctx, id, body), replayed: false };
    }
    const first = (await load(id)).value;
    if (first.status !== "pending") return decided(first, ctx, true);
    const refusal = await checkApprover(kv, first, ctx, body);
    if (refusal) await deny(ctx, first, refusal.error, refusal.reason);
    if (Date.parse(first.expires_at) <= clock.now()) {
      await expire(ctx, first.id);
      throw new AppError(
        "conflict",
        `approval request ${id} expired at ${first.expires_at}; ask again`,
      );
    }
    let won = false;
    const claimed = await svc.audit.commit(ctx, async (op) => {
      won = false;
      const entry = await load(id);
      if (entry.value.status !== "pending") return { value: entry.value, audit: [] };
      const iso = new Date(clock.now()).toISOString();
      const next: ApprovalRequest = {
        ...entry.value,
        status: "approved",
        decided_by: ctx.actor.id,
        decided_at: iso,
        decision_note: body.note?.trim() || null,
      };
      addUpdateApproval(op, entry, next);
      won = true;
      return {
        value: next,
        audit: [{
          action: "approval.approve",
          target: target(id),
          result: "ok",
          after: { kind: next.kind, requested_by: next.requested_by, summary: next.summary },
          reason: next.decision_note,
        }],
      };
    });
    // Lost the claim to a concurrent decision: answer with it (no second execution).
    if (!won) return decided(claimed, ctx, true);
    return { request: await run(ctx, claimed), replayed: false };
  }

  /** Runs the kind's executor once and records how it went. */
  async function run(ctx: CallContext, claimed: ApprovalRequest): Promise<ApprovalRequest> {
    const reg = registration(claimed.kind);
    let result: Record<string, unknown> | null = null;
    let error: string | null = null;
    let handover: unknown = undefined;
    try {
      // `handover` (an enrollment code for someone else) is answered once, never stored
      const { handover: h, ...rest } = (await reg.execute!(deps, claimed, ctx)) ?? {};
      result = rest;
      handover = h;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      if (!(e instanceof AppError)) deps.log.error("approved action failed", { error: e });
    }
    const done = await svc.audit.commit(ctx, async (op) => {
      const entry = await load(claimed.id);
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

  async function reject(
    ctx: CallContext,
    id: string,
    body: DecisionBody = {},
  ): Promise<DecisionResult> {
    const source = sourceOf(id);
    if (source) {
      return { request: null, outcome: await source.reject(ctx, id, body), replayed: false };
    }
    const first = (await load(id)).value;
    if (first.status !== "pending") return decided(first, ctx, false);
    const value = await svc.audit.commit(ctx, async (op) => {
      const entry = await load(id);
      if (entry.value.status !== "pending") return { value: entry.value, audit: [] };
      const next: ApprovalRequest = {
        ...entry.value,
        status: "rejected",
        decided_by: ctx.actor.id,
        decided_at: new Date(clock.now()).toISOString(),
        decision_note: body.note?.trim() || null,
      };
      addUpdateApproval(op, entry, next);
      return {
        value: next,
        audit: [{
          action: "approval.reject",
          target: target(id),
          result: "ok",
          after: { kind: next.kind, requested_by: next.requested_by },
          reason: next.decision_note,
        }],
      };
    });
    if (value.status !== "rejected" || value.decided_by !== ctx.actor.id) {
      return decided(value, ctx, false);
    }
    return { request: value, replayed: false };
  }

  async function expire(ctx: CallContext, id: string): Promise<void> {
    await svc.audit.commit(ctx, async (op) => {
      const entry = await load(id);
      if (entry.value.status !== "pending") return { value: null, audit: [] };
      addUpdateApproval(op, entry, { ...entry.value, status: "expired" });
      return {
        value: null,
        audit: [{ action: "approval.expire", target: target(id), result: "ok" }],
      };
    });
  }

  async function get(id: string): Promise<ApprovalRequest> {
    return (await load(id)).value;
  }

  /** A page of one status, newest first; the pending page also lists the sources' requests. */
  async function list(
    q: { status: ApprovalRequest["status"]; kind?: string; limit: number; cursor?: string },
  ): Promise<Page<ApprovalRequest>> {
    const page = await listApprovalsByStatus(kv, svc.cursors, q.status, q);
    const now = clock.now();
    let data = page.data;
    if (q.status === "pending") {
      data = data.filter((r) => Date.parse(r.expires_at) > now);
      if (!q.cursor) {
        for (const reg of kinds.values()) {
          if (reg.source) data = [...data, ...await reg.source.pending(q.limit)];
        }
        data.sort((a, b) => b.created_at.localeCompare(a.created_at));
      }
    }
    if (q.kind) data = data.filter((r) => r.kind === q.kind);
    return { data, next_cursor: page.next_cursor };
  }

  return { register, request, addRequest, approve, reject, get, list };
}

export type ApprovalService = ReturnType<typeof createApprovalService>;
