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
 * instead: the queue lists theirs and hands decisions to them. A kind may also
 * register `history`: each step of its requests (approved, rejected, expired,
 * run) is then audited on what the request acts on too, as a refund's are on
 * the refund (a fraud rule's: `fraud_rule.approve` on the rule).
 */
import { type FieldError, notFound } from "../../core/errors.ts";
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { AuditInput } from "../audit/mod.ts";
import type { Page } from "../../kv/pagination.ts";
import {
  APPROVAL_POLICY,
  type ApprovalKind,
  type ApprovalRequest,
  DEFAULT_APPROVAL_TTL_MS,
  isApprovalKind,
} from "../../domain/approval.ts";
import { addCreateApproval } from "../../kv/approvals.ts";
import { type ListQuery, listRequests } from "./list.ts";
import { approvalHashOf } from "./rules.ts";
import { createDecisions } from "./decide.ts";
import { withHistory } from "./history.ts";

export type {
  ApprovalExecutor,
  ApprovalServices,
  ApprovalSource,
  DecisionBody,
  DecisionResult,
  KindRegistration,
  RequestOptions,
} from "./types.ts";
import type {
  ApprovalServices,
  ApprovalSource,
  DecisionBody,
  KindRegistration,
  RequestOptions,
} from "./types.ts";

const target = (id: string) => ({ type: "approval", id });

/** Builds a pending request (not yet written) and its audit entry. */
function buildRequest(
  deps: Deps,
  svc: ApprovalServices,
  reg: KindRegistration,
  kind: ApprovalKind,
  payload: Record<string, unknown>,
  ctx: CallContext,
  options: RequestOptions,
): { request: ApprovalRequest; audit: AuditInput } {
  const now = deps.clock.now();
  const ttl = reg.policy?.ttlMs ?? DEFAULT_APPROVAL_TTL_MS;
  const base = { kind, payload, target: options.target ?? null };
  const request: ApprovalRequest = {
    id: svc.newId("apr"),
    ...base,
    status: "pending",
    summary: options.summary.slice(0, 300),
    requested_by: ctx.actor.id,
    approval_hash: "",
    created_at: new Date(now).toISOString(),
    expires_at: new Date(now + ttl).toISOString(),
    decided_by: null,
    decided_at: null,
    decision_note: null,
    result: null,
    error: null,
  };
  // the request itself (its id) with what the approver reads: what an approval approves
  request.approval_hash = approvalHashOf(request);
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

export function createApprovalService(deps: Deps, svc: ApprovalServices) {
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
    const built = buildRequest(deps, svc, registration(kind), kind, payload, ctx, options);
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

  const historyOf = (kind: string) => isApprovalKind(kind) ? kinds.get(kind)?.history : undefined;

  /**
   * `entry` about `request` with its kind's entry in the history of what the request acts on,
   * for a domain that writes a request's entries itself (its creation, a disabled admin's expire).
   */
  function entriesAbout(request: ApprovalRequest, entry: AuditInput): AuditInput[] {
    return withHistory(historyOf(request.kind), request, entry);
  }
  const { load, approve, reject } = createDecisions(
    deps,
    svc,
    registration,
    sourceOf,
    historyOf,
  );

  /** A pending request past `expires_at` reads as expired (it is marked so when next decided). */
  async function get(id: string): Promise<ApprovalRequest> {
    const source = sourceOf(id);
    if (source) {
      const found = await source.one(id);
      if (!found) throw notFound("approval request", id);
      return found;
    }
    const r = (await load(id)).value;
    const lapsed = r.status === "pending" && Date.parse(r.expires_at) <= deps.clock.now();
    return lapsed ? { ...r, status: "expired" } : r;
  }

  /** A page of one status, newest first; the pending page also lists the sources' requests. */
  function list(q: ListQuery): Promise<Page<ApprovalRequest>> {
    return listRequests(deps, svc, kinds, q);
  }

  /** What an approval of `id` lacks by its source's rules (none for the queue's own kinds). */
  function approveBodyErrors(id: string, body: DecisionBody): FieldError[] {
    return sourceOf(id)?.approveBodyErrors?.(id, body) ?? [];
  }

  return {
    register,
    request,
    addRequest,
    entriesAbout,
    approve,
    reject,
    get,
    list,
    approveBodyErrors,
  };
}

export type ApprovalService = ReturnType<typeof createApprovalService>;
