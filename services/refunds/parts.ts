/**
 * What the refund service's operations share (service.ts, decisions.ts): the
 * parts they work with, the answer they give, and the Idempotency-Key scope
 * and replay of a request.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CursorSealer } from "../../kv/pagination.ts";
import {
  type IdempotencyScope,
  idempotencyScope,
  processingIn,
  type StoredResponse,
} from "../../kv/idempotency.ts";
import type { RefundSettlementHook } from "../ingest/mod.ts";
import { notFound } from "../../core/errors.ts";
import { getRefund } from "../../kv/refunds.ts";
import type { createRefundRequests } from "./requests.ts";
import type { createRefundSubmitter, RefundHooks } from "./submit.ts";
import type { createRefundReconciler } from "./reconcile.ts";
import { type RefundDetail, refundDetail } from "./views.ts";

/**
 * What create, approve and reject answer: the refund as it stood then (the
 * route picks the status from it: see `isUndecided`).
 */
export interface RefundResult {
  refund: RefundDetail;
  /**
   * this answer is one given before: the stored one for the Idempotency-Key,
   * or the decision (approve, reject) the caller had already made (decided.ts)
   */
  replayed: boolean;
}

export interface RefundServices {
  audit: AuditService;
  newId: IdFactory;
  cursors: CursorSealer;
  /** the same hook the Stripe event applier is given (services/refunds/settlement.ts) */
  refundSettlement: RefundSettlementHook;
  hooks?: RefundHooks;
}

/** What the refund service's operations work with. */
export interface ServiceParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  svc: RefundServices;
  submitter: ReturnType<typeof createRefundSubmitter>;
  requests: ReturnType<typeof createRefundRequests>;
  reconciler: ReturnType<typeof createRefundReconciler>;
}

/** `sameAs`: the request's own method and path, when another path is the same request. */
export function scopeOf(
  ctx: CallContext,
  route: string,
  sameAs?: string,
): IdempotencyScope | null {
  return idempotencyScope(ctx, route, sameAs);
}

/**
 * A decision on refund `id` by the approvals queue is the refund's own decision route's
 * request (README "A first session": approve on the refund's route and the queue's): one
 * key scope, and the refund's path named for both.
 */
export function decisionScope(ctx: CallContext, id: string, decision: "approve" | "reject") {
  return scopeOf(
    ctx,
    `POST /refunds/{id}/${decision}`,
    `POST /api/admin/payments/refunds/${id}/${decision}`,
  );
}

export async function resume(p: ServiceParts, id: string) {
  const { kv } = p;
  const record = (await getRefund(kv, id)).value;
  if (!record) throw notFound("refund", id);
  return { body: refundDetail(record, p.clock.now()) };
}

/**
 * The refund a key's first request made, while that request still holds the key (running,
 * or its process died mid-call): as it stands, the key's answer once no longer `processing`.
 */
export async function asItStands(p: ServiceParts, id: string) {
  const record = (await getRefund(p.kv, id)).value;
  if (!record) return null;
  return { body: refundDetail(record, p.clock.now()), settled: record.status !== "processing" };
}

/**
 * A key's stored answer sent again: while it shows the refund `processing` (Stripe's outcome
 * was unknown when it was given), the refund as it stands now, the key's answer once settled
 * (README "A first session"); any other stored answer is final (null).
 */
export function inProgress(p: ServiceParts, stored: StoredResponse) {
  const id = processingIn(stored);
  return id === null ? Promise.resolve(null) : asItStands(p, id);
}

export function toResult(
  r: { body: unknown; replayed: boolean; decision_replayed?: boolean },
): RefundResult {
  return { refund: r.body as RefundDetail, replayed: r.replayed || r.decision_replayed === true };
}
