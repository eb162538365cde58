/**
 * Refunds that move money exactly once (ARCHITECTURE.md invariants 1 and 2).
 *
 *   create  -> one commit: record `processing` (or `awaiting_approval`), reservation
 *              on the transaction, reconciliation/expiry job, audit entry
 *           -> Stripe, keyed `refund:<rfd id>`, metadata {refund_id, requested_by}
 *           -> second commit: settled through the Stripe event applier's hook, or
 *              released on a definite refusal; unknown outcomes wait for reconciliation
 *   approve / reject -> maker-checker on `awaiting_approval` refunds
 *
 * Client `Idempotency-Key`s (kv/idempotency.ts) wrap create, approve and reject.
 * Modules: refund_policy (what may be refunded, who must approve),
 * refund_requests (the first commits), refund_submit (Stripe and the second
 * commit), refund_settlement (the hook webhooks also use), refund_reconcile (jobs).
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import { type AuditService } from "../audit/mod.ts";
import { AppError, notFound, validationFailed } from "../../core/errors.ts";
import { type RefundSettlementHook } from "../ingest/mod.ts";
import { type CreateRefundInput, createRefundRequests } from "./requests.ts";
import { createRefundSubmitter, type RefundHooks } from "./submit.ts";
import { createRefundReconciler, type SweepOptions } from "./reconcile.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import { type IdempotencyScope, requestFingerprint, runIdempotent } from "../../kv/idempotency.ts";
import type { Job, JobHandler } from "../../kv/jobs.ts";
import {
  getRefund,
  getRefundIdByStripeRefund,
  listRefunds,
  type RefundFilters,
  type RefundHistoryEntry,
  type RefundRecord,
} from "../../kv/refunds.ts";
import { listAllOpsAlerts, type OpsAlert } from "../../kv/ops_alerts.ts";
import { REFUND_EXPIRE_JOB, REFUND_RECONCILE_JOB } from "./requests.ts";

export type { CreateRefundInput } from "./requests.ts";
export type { RefundHooks } from "./submit.ts";
export type { ReconcileSummary, SweepOptions } from "./reconcile.ts";
export type { RefundFilters, RefundReason, RefundStatus } from "../../kv/refunds.ts";
export type { OpsAlert } from "../../kv/ops_alerts.ts";
export { REFUND_REASONS, REFUND_STATUSES } from "../../kv/refunds.ts";
export { createRefundSettlement, DASHBOARD_REQUESTER } from "./settlement.ts";
export { createRefundMerge } from "./merge.ts";
export { REFUND_EXPIRE_JOB, REFUND_RECONCILE_JOB } from "./requests.ts";

/** The fields of a refund record that the API shows as they are. */
const PUBLIC_FIELDS = [
  "id",
  "transaction_id",
  "amount",
  "currency",
  "reason",
  "note",
  "status",
  "requested_by",
  "approved_by",
  "rejected_by",
  "decision_note",
  "stripe_refund",
  "stripe_status",
  "failure_reason",
  "fraud_alert_id",
  "created_at",
  "updated_at",
  "settled_at",
] as const satisfies readonly (keyof RefundRecord)[];

/** A refund as the API shows it: internals (Stripe idempotency key, target) left out. */
export type RefundView = Pick<RefundRecord, typeof PUBLIC_FIELDS[number]> & {
  approval: {
    required: boolean;
    reasons: string[];
    hash: string | null;
    expires_at: string | null;
  };
};

export interface RefundDetail extends RefundView {
  history: RefundHistoryEntry[];
}

/** What a POST answers: the refund, and 201 (Stripe answered) / 202 (awaiting approval or reconciliation) / 200. */
export interface RefundResult {
  status: 200 | 201 | 202;
  refund: RefundDetail;
  /** this answer is the stored one for the Idempotency-Key */
  replayed: boolean;
}

export function refundView(r: RefundRecord): RefundView {
  const shown = Object.fromEntries(PUBLIC_FIELDS.map((k) => [k, r[k]])) as Pick<
    RefundRecord,
    typeof PUBLIC_FIELDS[number]
  >;
  return {
    ...shown,
    approval: {
      required: r.approval_reasons.length > 0,
      reasons: r.approval_reasons,
      hash: r.approval_hash,
      expires_at: r.expires_at,
    },
  };
}

export function refundDetail(r: RefundRecord): RefundDetail {
  return { ...refundView(r), history: r.history };
}

/** Awaiting a decision or an unknown Stripe outcome: 202; Stripe answered: 201. */
function createdStatus(r: RefundRecord): 201 | 202 {
  return r.status === "awaiting_approval" || r.status === "processing" ? 202 : 201;
}

export interface RefundServices {
  audit: AuditService;
  newId: IdFactory;
  cursors: CursorSealer;
  /** the same hook the Stripe event applier is given (services/refund_settlement.ts) */
  refundSettlement: RefundSettlementHook;
  hooks?: RefundHooks;
}

export interface RefundQuery extends RefundFilters {
  limit: number;
  cursor?: string;
}

export function createRefundService(deps: Deps, svc: RefundServices) {
  const { kv, clock } = deps;
  const submitter = createRefundSubmitter(deps, svc);
  const requests = createRefundRequests(deps, svc);
  const reconciler = createRefundReconciler(deps, submitter);

  function scopeOf(ctx: CallContext, route: string): IdempotencyScope | null {
    return ctx.idempotency_key === undefined
      ? null
      : { owner: ctx.actor.id, route, key: ctx.idempotency_key };
  }

  async function resume(id: string, ok: 200 | 201) {
    const record = (await getRefund(kv, id)).value;
    if (!record) throw notFound("refund", id);
    const status = record.status === "awaiting_approval" || record.status === "processing"
      ? 202
      : ok;
    return { status, body: refundDetail(record) };
  }

  function toResult(r: { status: number; body: unknown; replayed: boolean }): RefundResult {
    return {
      status: r.status as RefundResult["status"],
      refund: r.body as RefundDetail,
      replayed: r.replayed,
    };
  }

  /**
   * POST /refunds. 201 when Stripe answered (pending or succeeded), 202 when
   * awaiting approval or left to reconciliation; Stripe's refusal is 502
   * `stripe_error` (the refund is recorded `failed`).
   */
  async function create(ctx: CallContext, input: CreateRefundInput): Promise<RefundResult> {
    const fingerprint = await requestFingerprint({ route: "create", ...input });
    return toResult(
      await runIdempotent(kv, clock, scopeOf(ctx, "POST /refunds"), fingerprint, {
        run: async (binding) => {
          let record = await requests.request(ctx, input, binding);
          if (record.status === "processing") record = await submitter.submit(ctx, record);
          return { status: createdStatus(record), body: refundDetail(record) };
        },
        resume: (id) => resume(id, 201),
      }),
    );
  }

  /** A refund answering a fraud alert (the fraud service offers this path). */
  function createForFraudAlert(
    ctx: CallContext,
    input: Omit<CreateRefundInput, "reason" | "fraud_alert_id"> & { fraud_alert_id: string },
  ): Promise<RefundResult> {
    return create(ctx, { ...input, reason: "fraudulent" });
  }

  /** POST /refunds/{id}/approve: 200 when Stripe answered, 202 when left to reconciliation. */
  async function approve(
    ctx: CallContext,
    id: string,
    body: { note?: string; approval_hash?: string } = {},
  ): Promise<RefundResult> {
    const fingerprint = await requestFingerprint({ route: "approve", id, ...body });
    return toResult(
      await runIdempotent(kv, clock, scopeOf(ctx, "POST /refunds/{id}/approve"), fingerprint, {
        run: async (binding) => {
          let record = await requests.approve(ctx, id, body, binding);
          record = await submitter.submit(ctx, record);
          return {
            status: record.status === "processing" ? 202 : 200,
            body: refundDetail(record),
          };
        },
        resume: (rid) => resume(rid, 200),
      }),
    );
  }

  /** POST /refunds/{id}/reject: the reservation is released; the requester may withdraw their own. */
  async function reject(
    ctx: CallContext,
    id: string,
    body: { note: string },
  ): Promise<RefundResult> {
    const fingerprint = await requestFingerprint({ route: "reject", id, ...body });
    return toResult(
      await runIdempotent(kv, clock, scopeOf(ctx, "POST /refunds/{id}/reject"), fingerprint, {
        run: async (binding) => {
          if (!body.note?.trim()) {
            throw validationFailed([{
              path: "body.note",
              message: "say why (1 to 500 characters)",
            }]);
          }
          await requests.checkRejectable(id);
          const record = await submitter.release(ctx, id, {
            status: "rejected",
            from: ["awaiting_approval"],
            action: "refund.reject",
            reason: body.note.trim(),
            decided_by: ctx.actor.id,
            binding,
          });
          if (!record) await requests.checkRejectable(id); // lost to a concurrent decision: 409
          if (!record) throw new AppError("conflict", `refund ${id} was decided meanwhile`);
          return { status: 200, body: refundDetail(record) };
        },
        resume: (rid) => resume(rid, 200),
      }),
    );
  }

  /** By our `rfd_…` id, or by the Stripe refund id (`re_…`). */
  async function get(id: string): Promise<RefundDetail> {
    const localId = id.startsWith("re_") ? (await getRefundIdByStripeRefund(kv, id)).value : id;
    const record = localId ? (await getRefund(kv, localId)).value : null;
    if (!record) throw notFound("refund", id);
    return refundDetail(record);
  }

  async function list(q: RefundQuery): Promise<Page<RefundView>> {
    const { limit, cursor, ...filters } = q;
    const page = await listRefunds(kv, svc.cursors, filters, { limit, cursor });
    return { data: page.data.map(refundView), next_cursor: page.next_cursor };
  }

  /** The job table's handlers (`refund.reconcile`, `refund.expire_approval`). */
  function jobHandlers(): Record<string, JobHandler> {
    return {
      [REFUND_RECONCILE_JOB]: async (job: Job) => {
        const { refund_id } = job.payload as { refund_id: string };
        const outcome = await reconciler.reconcileOne(refund_id);
        if (outcome === "unknown") {
          throw new Error(`Stripe's outcome for ${refund_id} is still unknown; trying again later`);
        }
      },
      [REFUND_EXPIRE_JOB]: async (job: Job) => {
        const { refund_id } = job.payload as { refund_id: string };
        if (!await reconciler.expireOne(refund_id)) {
          throw new Error(`refund ${refund_id} is not expired yet`);
        }
      },
    };
  }

  return {
    create,
    createForFraudAlert,
    approve,
    reject,
    get,
    list,
    /** the cron's sweep: stale `processing` refunds and expired approval requests */
    reconcile: (options?: SweepOptions) => reconciler.sweep(options),
    reconcileOne: reconciler.reconcileOne,
    jobHandlers,
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
