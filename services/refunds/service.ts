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
 * settlement.ts (the hook webhooks also use), reconcile.ts (jobs), decisions.ts
 * (approve, reject), parts.ts (what the operations share).
 */
import type { Deps } from "../deps.ts";
import {
  asItStands,
  inProgress,
  type RefundResult,
  type RefundServices,
  resume,
  scopeOf,
  type ServiceParts,
  toResult,
} from "./parts.ts";
import { approve, reject } from "./decisions.ts";
import type { CallContext } from "../../domain/actor.ts";
import { voidAwaitingOf } from "./void.ts";
import { alertResolutionRefusal, type AlertVoid, voidRefundsOfAlert } from "./fraud_alert.ts";
import { notFound } from "../../core/errors.ts";
import { auditIfRefused, moneyRefusal, refusalCurrency } from "./denials.ts";
import { type CreateRefundInput, createRefundRequests } from "./requests.ts";
import { createRefundSubmitter } from "./submit.ts";
import { createRefundReconciler, reconcileJobHandlers, type SweepOptions } from "./reconcile.ts";
import type { Page } from "../../kv/pagination.ts";
import { requestFingerprint, runIdempotent } from "../../kv/idempotency.ts";
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

export type { RefundResult, RefundServices } from "./parts.ts";

export interface RefundQuery extends RefundFilters {
  limit: number;
  cursor?: string;
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
  const scope = scopeOf(ctx, "POST /refunds");
  try {
    return toResult(
      await runIdempotent(kv, clock, scope, fingerprint, {
        run: async (binding) => {
          let record = await requests.request(ctx, input, binding);
          if (record.status === "processing") record = await submitter.submit(ctx, record);
          return { body: refundDetail(record, p.clock.now()) };
        },
        resume: (id) => resume(p, id),
        asItStands: (id) => asItStands(p, id),
        inProgress: (stored) => inProgress(p, stored),
      }),
    );
  } catch (error) {
    if (!moneyRefusal(error)) throw error;
    const { amount = null, reason, note } = input;
    const target = { type: "transaction", id: input.transaction_id };
    // an amount in minor units is read with its currency: the payment's (denials.ts)
    const currency = await refusalCurrency(kv, input, scope);
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
    /** why `ctx` may not resolve an alert legitimate (its own refunds wait on it), or null */
    fraudAlertResolutionRefusal: (
      ctx: CallContext,
      alert: { id: string; transactions: string[] },
    ) => alertResolutionRefusal(kv, ctx, alert),
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
