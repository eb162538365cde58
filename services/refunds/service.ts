/**
 * Refunds that move money at most once and are never unrecorded (README).
 *
 *   create  -> one commit: record `processing` (or `awaiting_approval`), reservation
 *              on the transaction, reconciliation/expiry job, audit entry
 *           -> Stripe, keyed `refund:<rfd id>`, metadata {refund_id, requested_by}
 *           -> second commit: settled through the Stripe event applier's hook, or
 *              released on a definite refusal; unknown outcomes wait for reconciliation
 *   approve / reject -> maker-checker on `awaiting_approval` refunds
 *
 * Client `Idempotency-Key`s (kv/idempotency.ts) wrap create, approve and reject.
 * Modules: policy.ts (what may be refunded, who must approve), requests.ts
 * and draft.ts (the first commits), submit.ts (Stripe and the second commit),
 * settlement.ts (the hook webhooks also use), reconcile.ts (jobs).
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import { voidAwaitingOf, voidIfUndoable } from "./void.ts";
import { type AlertVoid, voidRefundsOfAlert } from "./fraud_alert.ts";
import { type AuditService } from "../audit/mod.ts";
import { AppError, type ErrorCode, notFound, validationFailed } from "../../core/errors.ts";
import { auditIfRefused } from "./denials.ts";
import { replayedDecision } from "./decided.ts";
import { type RefundSettlementHook } from "../ingest/mod.ts";
import { type CreateRefundInput, createRefundRequests } from "./requests.ts";
import { createRefundSubmitter, type RefundHooks } from "./submit.ts";
import { createRefundReconciler, reconcileJobHandlers, type SweepOptions } from "./reconcile.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import { type IdempotencyScope, requestFingerprint, runIdempotent } from "../../kv/idempotency.ts";
import type { JobHandler } from "../../kv/jobs.ts";
import { getRefund, getRefundIdByStripeRefund } from "../../kv/refunds.ts";
import { listAwaitingApproval, listRefunds, type RefundFilters } from "../../kv/refund_listing.ts";
import { type RefundDetail, refundDetail, type RefundView, refundView } from "./views.ts";
import { listAllOpsAlerts, type OpsAlert } from "../../kv/ops_alerts.ts";

export type { CreateRefundInput } from "./requests.ts";
export type { RefundHooks } from "./submit.ts";
export type { ReconcileSummary, SweepOptions } from "./reconcile.ts";
export type { RefundFilters } from "../../kv/refund_listing.ts";
export type { RefundReason, RefundStatus } from "../../domain/refund.ts";
export type { OpsAlert } from "../../kv/ops_alerts.ts";
export { isUndecided, REFUND_REASONS, REFUND_STATUSES } from "../../domain/refund.ts";
export { createRefundSettlement, DASHBOARD_REQUESTER } from "./settlement.ts";
export { createRefundMerge } from "./merge.ts";
export { REFUND_EXPIRE_JOB, REFUND_RECONCILE_JOB } from "./requests.ts";

export { refundDetail, refundView } from "./views.ts";
export type { RefundDetail, RefundView } from "./views.ts";

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

export interface RefundQuery extends RefundFilters {
  limit: number;
  cursor?: string;
}

function scopeOf(ctx: CallContext, route: string): IdempotencyScope | null {
  return ctx.idempotency_key === undefined
    ? null
    : { owner: ctx.actor.id, route, key: ctx.idempotency_key };
}

async function resume(p: ServiceParts, id: string) {
  const { kv } = p;
  const record = (await getRefund(kv, id)).value;
  if (!record) throw notFound("refund", id);
  return { body: refundDetail(record, p.clock.now()) };
}

function toResult(
  r: { body: unknown; replayed: boolean; decision_replayed?: boolean },
): RefundResult {
  return { refund: r.body as RefundDetail, replayed: r.replayed || r.decision_replayed === true };
}

/**
 * Asks for a refund: sent at once (Stripe answered: pending or succeeded),
 * awaiting approval, or left to reconciliation (`processing`); Stripe's
 * refusal is the `stripe_error` AppError (the refund is recorded `failed`).
 */
async function create(
  p: ServiceParts,
  ctx: CallContext,
  input: CreateRefundInput,
): Promise<RefundResult> {
  const { kv, clock, submitter, requests } = p;
  const fingerprint = await requestFingerprint({ route: "create", ...input });
  try {
    return toResult(
      await runIdempotent(kv, clock, scopeOf(ctx, "POST /refunds"), fingerprint, {
        run: async (binding) => {
          let record = await requests.request(ctx, input, binding);
          if (record.status === "processing") record = await submitter.submit(ctx, record);
          return { body: refundDetail(record, p.clock.now()) };
        },
        resume: (id) => resume(p, id),
      }),
    );
  } catch (error) {
    const { amount = null, currency = null, reason, note } = input;
    const target = { type: "transaction", id: input.transaction_id };
    const after = { amount, currency, reason, note };
    await auditIfRefused(p.svc.audit, ctx, "refund.create", target, error, { after });
    throw error;
  }
}

/** A refund answering a fraud alert (the fraud service offers this path). */
function createForFraudAlert(
  p: ServiceParts,
  ctx: CallContext,
  input: Omit<CreateRefundInput, "reason" | "fraud_alert_id"> & { fraud_alert_id: string },
): Promise<RefundResult> {
  return create(p, ctx, { ...input, reason: "fraudulent" });
}

/** Approves and sends: Stripe answered, or left to reconciliation (`processing`). */
async function approve(
  p: ServiceParts,
  ctx: CallContext,
  id: string,
  body: { note?: string; approval_hash?: string } = {},
): Promise<RefundResult> {
  const { kv, clock, submitter, requests } = p;
  const fingerprint = await requestFingerprint({ route: "approve", id, ...body });
  const target = { type: "refund", id };
  return toResult(
    await runIdempotent(kv, clock, scopeOf(ctx, "POST /refunds/{id}/approve"), fingerprint, {
      run: async (binding) => {
        let record;
        try {
          record = await requests.approve(ctx, id, body, binding);
        } catch (error) {
          // approving again what you approved answers it, as the queue does (decided.ts)
          const replay = await replayedDecision(kv, clock.now(), ctx, id, true, error);
          if (replay) return replay;
          // a refund that can no longer be carried out is recorded by its voiding (void.ts)
          const except: ErrorCode[] = ["amount_exceeds_refundable"];
          await auditIfRefused(p.svc.audit, ctx, "refund.approve", target, error, { except });
          throw await voidIfUndoable(p.submitter, ctx, id, error);
        }
        record = await submitter.submit(ctx, record);
        return { body: refundDetail(record, p.clock.now()) };
      },
      resume: (id) => resume(p, id),
    }).catch(async (error) => {
      if (isKeyReused(error)) {
        await auditIfRefused(p.svc.audit, ctx, "refund.approve", target, error);
      }
      throw error;
    }),
  );
}

const isKeyReused = (e: unknown) => e instanceof AppError && e.code === "idempotency_key_reused";

/** Rejects: the reservation is released; the requester may withdraw their own. */
async function reject(
  p: ServiceParts,
  ctx: CallContext,
  id: string,
  body: { note: string },
): Promise<RefundResult> {
  const { kv, clock, submitter, requests } = p;
  const fingerprint = await requestFingerprint({ route: "reject", id, ...body });
  const target = { type: "refund", id };
  return toResult(
    await runIdempotent(kv, clock, scopeOf(ctx, "POST /refunds/{id}/reject"), fingerprint, {
      run: async (binding) => {
        if (!body.note?.trim()) {
          throw validationFailed([{
            path: "body.note",
            message: "say why (1 to 500 characters)",
          }]);
        }
        try {
          await requests.checkRejectable(id);
          const record = await submitter.release(ctx, id, {
            status: "rejected",
            from: ["awaiting_approval"],
            action: "refund.reject",
            reason: body.note.trim(),
            decided_by: ctx.actor.id,
            binding,
          });
          // lost to a concurrent decision, or its deadline passed meanwhile: 409
          if (!record) await requests.checkRejectable(id);
          if (!record) throw new AppError("conflict", `refund ${id} was decided meanwhile`);
          return { body: refundDetail(record, p.clock.now()) };
        } catch (error) {
          const replay = await replayedDecision(kv, clock.now(), ctx, id, false, error);
          if (replay) return replay;
          await auditIfRefused(p.svc.audit, ctx, "refund.reject", target, error);
          // past its deadline: ended now, its reservation released (void.ts)
          throw await voidIfUndoable(p.submitter, ctx, id, error);
        }
      },
      resume: (id) => resume(p, id),
    }).catch(async (error) => {
      if (isKeyReused(error)) {
        await auditIfRefused(p.svc.audit, ctx, "refund.reject", target, error);
      }
      throw error;
    }),
  );
}

/** By our `rfd_…` id, or by the Stripe refund id (`re_…`). */
async function get(p: ServiceParts, id: string): Promise<RefundDetail> {
  const { kv } = p;
  const localId = id.startsWith("re_") ? (await getRefundIdByStripeRefund(kv, id)).value : id;
  const record = localId ? (await getRefund(kv, localId)).value : null;
  if (!record) throw notFound("refund", id);
  return refundDetail(record, p.clock.now());
}

async function list(p: ServiceParts, q: RefundQuery): Promise<Page<RefundView>> {
  const { kv, svc } = p;
  const { limit, cursor, ...filters } = q;
  const now = p.clock.now();
  const page = await listRefunds(kv, svc.cursors, filters, { limit, cursor }, now);
  return { data: page.data.map((r) => refundView(r, now)), next_cursor: page.next_cursor };
}

/** What the refund service's operations work with. */
interface ServiceParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  svc: RefundServices;
  submitter: ReturnType<typeof createRefundSubmitter>;
  requests: ReturnType<typeof createRefundRequests>;
  reconciler: ReturnType<typeof createRefundReconciler>;
}

export function createRefundService(deps: Deps, svc: RefundServices) {
  const { kv, clock } = deps;
  const submitter = createRefundSubmitter(deps, svc);
  const requests = createRefundRequests(deps, svc);
  const reconciler = createRefundReconciler(deps, submitter);
  const p: ServiceParts = { kv, clock, svc, submitter, requests, reconciler };

  return {
    create: (ctx: CallContext, input: CreateRefundInput) => create(p, ctx, input),
    createForFraudAlert: (
      ctx: CallContext,
      input: Omit<CreateRefundInput, "reason" | "fraud_alert_id"> & { fraud_alert_id: string },
    ) => createForFraudAlert(p, ctx, input),
    approve: (ctx: CallContext, id: string, body?: { note?: string; approval_hash?: string }) =>
      approve(p, ctx, id, body),
    reject: (ctx: CallContext, id: string, body: { note: string }) => reject(p, ctx, id, body),
    get: (id: string) => get(p, id),
    list: (q: RefundQuery) => list(p, q),
    /** the refunds awaiting approval in the store, newest first (lapsed ones read `expired`) */
    awaitingApproval: async (limit: number): Promise<RefundView[]> => {
      const now = clock.now();
      return (await listAwaitingApproval(kv, limit)).map((r) => refundView(r, now));
    },
    /** the cron's sweep: stale `processing` refunds and expired approval requests */
    reconcile: (options?: SweepOptions) => reconciler.sweep(options),
    reconcileOne: reconciler.reconcileOne,
    /** ends the fraudulent refunds awaiting approval of an alert just resolved legitimate */
    voidForFraudAlert: (...a: AlertVoid) => voidRefundsOfAlert(kv, submitter, ...a),
    /** ends the refunds awaiting approval of a just-disabled admin (identity's disable hook) */
    voidRequestsOf: (adminId: string) => voidAwaitingOf(kv, submitter, adminId, clock.now()),
    jobHandlers: () => reconcileJobHandlers(reconciler),
    opsAlerts: (): Promise<OpsAlert[]> => listAllOpsAlerts(kv),
  };
}

export type RefundService = ReturnType<typeof createRefundService>;

/** For main.ts's cron: one reconciliation sweep (the job table runs `refundJobHandlers`). */
export function reconcileRefunds(
  services: { refunds: RefundService },
  options?: SweepOptions,
) {
  return services.refunds.reconcile(options);
}

/** The job handlers to merge into `runDueJobs` (services/background.ts `jobHandlers`). */
export function refundJobHandlers(
  services: { refunds: RefundService },
): Record<string, JobHandler> {
  return services.refunds.jobHandlers();
}
