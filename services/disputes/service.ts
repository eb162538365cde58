/**
 * The dispute workbench: records kept from Stripe's `charge.dispute.*` events
 * (services/disputes/ingest.ts), read with filters and deadlines, worked on
 * with notes, assignment and an evidence draft, and ended by the two
 * deliberate steps, submit (once per round) and accept.
 *
 *   ingest     the applier's hook: records follow Stripe, order-safe
 *   evidence   draft checked, chunked in KV, staged at Stripe with submit=false
 *   submit     record-before-call, idempotency-keyed, reconciled (like refunds)
 *   accept     close at Stripe (lost); a second person at or above the threshold
 *   sync       pull from Stripe, idempotent
 *   reminders  72 h / 24 h ops alerts, overdue marks (cron)
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { ApprovalRequest, ApprovalService } from "../approvals/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { IdFactory } from "../../core/ids.ts";
import { AppError } from "../../core/errors.ts";
import type { CursorSealer } from "../../kv/pagination.ts";
import type { DisputeChangeHook } from "../ingest/mod.ts";
import { getDispute } from "../../kv/disputes.ts";
import type { DisputeRecord } from "../../domain/dispute.ts";
import { idempotencyScope, requestFingerprint, runIdempotent } from "../../kv/idempotency.ts";
import type { Job, JobHandler } from "../../kv/jobs.ts";
import { createDisputeApplier } from "./apply.ts";
import { createEvidenceDrafts } from "./evidence.ts";
import {
  createDisputeSubmitter,
  DISPUTE_SUBMIT_RECONCILE_JOB,
  type DisputeSubmitter,
} from "./submit.ts";
import { type AcceptOutcome, createDisputeAccepts } from "./accept.ts";
import { createDisputeSync } from "./sync.ts";
import { DISPUTE_CLOSE_RECONCILE_JOB } from "./close.ts";
import { getApproval } from "../../kv/approvals.ts";
import { createDisputeReminders } from "./reminders.ts";
import { createEvidenceFiles } from "./files.ts";
import type { EvidenceFileField } from "../../domain/dispute_evidence.ts";
import { createWorkbench } from "./workbench.ts";
import type { DraftConditions } from "./draft_precondition.ts";

export interface DisputeServices {
  /** the two-person queue: large accepts wait there (services/approvals/) */
  approvals?: ApprovalService;
  audit: AuditService;
  newId: IdFactory;
  cursors: CursorSealer;
  disputeChange: DisputeChangeHook;
}

export type { DisputeQuery } from "./workbench.ts";

export function createDisputeService(deps: Deps, svc: DisputeServices) {
  const { kv, clock } = deps;
  const applyDispute = createDisputeApplier(deps, svc);
  const drafts = createEvidenceDrafts(deps, { audit: svc.audit, applyDispute });
  const submitter = createDisputeSubmitter(deps, { ...svc, applyDispute });
  const accepts = createDisputeAccepts(deps, {
    audit: svc.audit,
    newId: svc.newId,
    applyDispute,
    approvals: svc.approvals,
  });
  const syncer = createDisputeSync(deps, { applyDispute });
  const reminders = createDisputeReminders(deps, svc);
  const files = createEvidenceFiles(deps, { audit: svc.audit, setField: drafts.setField });
  const { load, detail, list, addNote, assign } = createWorkbench(deps, svc);

  async function saveEvidence(
    ctx: CallContext,
    id: string,
    body: unknown,
    cond: DraftConditions = {},
  ) {
    const r = await load(id);
    return await detail(await drafts.save(ctx, r.id, body, cond), ctx.actor.role);
  }

  async function uploadFile(
    ctx: CallContext,
    id: string,
    file: unknown,
    field: EvidenceFileField,
    cond: DraftConditions = {},
  ) {
    const r = await load(id);
    await files.upload(ctx, r.id, file, field, cond);
    return await detail(await load(r.id), ctx.actor.role);
  }

  /**
   * What a key resumes after its request was answered "try again" (503: the
   * claim let go) or died: the dispute's id, to answer it as it stands; null
   * when its close or submission `failed` (Stripe acted on nothing, or refused
   * it), so the request runs afresh under the key, as one sent without a key
   * would, instead of a 200 showing the dispute still open.
   */
  async function resumeUnlessFailed(rid: string, failed: (d: DisputeRecord) => boolean) {
    const d = (await getDispute(kv, rid)).value;
    return d && failed(d) ? null : { body: { dispute_id: rid } };
  }

  /**
   * A key still held by its first request (running, or died mid-call): the dispute as it
   * stands, settled once `state` is not `processing`; a `failed` one answers nothing (409
   * until the lease frees the key, which then tries afresh).
   */
  async function standing(rid: string, state: (d: DisputeRecord) => string | undefined) {
    const d = (await getDispute(kv, rid)).value;
    const now = d ? state(d) : "failed";
    if (now === "failed") return null;
    return { body: { dispute_id: rid }, settled: now !== "processing" };
  }

  /**
   * POST /disputes/{id}/submit, wrapped by the client's Idempotency-Key when
   * sent. The key keeps only the dispute's id, and a replay shows the dispute
   * as it stands (its submission, settled since or not): the whole detail,
   * with a draft of up to 150,000 characters and its notes, outgrows one KV
   * value (64 KiB).
   */
  async function submit(ctx: CallContext, id: string) {
    const r = await load(id);
    const scope = idempotencyScope(ctx, "POST /disputes/{id}/submit");
    const res = await runIdempotent(kv, clock, scope, await requestFingerprint({ id: r.id }), {
      run: async (binding) => {
        const submitted = await submitter.submit(ctx, r.id, binding);
        return { body: { dispute_id: submitted.id } };
      },
      resume: (rid) => resumeUnlessFailed(rid, (d) => d.submission?.state === "failed"),
      asItStands: (rid) => standing(rid, (d) => d.submission?.state ?? "failed"),
    });
    // answers stored before kept the whole detail, whose `id` is the dispute's
    const stored = res.body as { dispute_id?: string; id?: string };
    const disputeId = stored.dispute_id ?? stored.id ?? r.id;
    return {
      dispute: await detail(await load(disputeId), ctx.actor.role),
      replayed: res.replayed,
    };
  }

  /** What accept answers: closed, sent with an unknown outcome, or waiting for a second person. */
  async function acceptAnswer(out: AcceptOutcome, role: string | null) {
    return {
      kind: out.kind,
      dispute: await detail(out.record, role),
      approval: out.kind === "awaiting_approval" ? out.approval : null,
    };
  }

  /**
   * The answer to an accept sent again with its Idempotency-Key (or resumed
   * after its process died): the accept as it stands. A request waiting in the
   * approvals queue is 202 with it, a close sent is 202 (`processing`) or 200
   * (`closed`); a close that failed is no success to replay: 409 with the
   * failure, the dispute being open (accept again, with a new key).
   */
  async function acceptResumed(id: string, role: string | null) {
    const record = await load(id);
    const state = record.closing?.state;
    const pendingId = record.accept_request?.approval_id;
    const approval = pendingId ? (await getApproval(kv, pendingId)).value : null;
    // a request still waiting, or the one this accept made when nothing was sent since
    const waiting = approval !== null && (approval.status === "pending" || !record.closing);
    if (state === "closed" || state === "processing") {
      return await acceptAnswer({ kind: state, record }, role);
    }
    if (waiting) return await acceptAnswer({ kind: "awaiting_approval", record, approval }, role);
    if (state === "failed") {
      throw new AppError(
        "conflict",
        `the close this accept started failed (${record.closing!.failure ?? "refused"}); the ` +
          `dispute is ${record.status}: accept it again, with a new Idempotency-Key`,
        { extra: { closing: record.closing } },
      );
    }
    return await acceptAnswer({ kind: "closed", record }, role);
  }

  /** POST /disputes/{id}/accept, wrapped by the client's Idempotency-Key when sent. */
  async function accept(ctx: CallContext, id: string, note: string) {
    const r = await load(id);
    const scope = idempotencyScope(ctx, "POST /disputes/{id}/accept");
    // the key keeps only the dispute's id (the whole detail outgrows a KV value, as on submit);
    // a replay answers the accept as it stands: closed, closing, or the request waiting
    let answer: Awaited<ReturnType<typeof acceptAnswer>> | null = null;
    const res = await runIdempotent(
      kv,
      clock,
      scope,
      await requestFingerprint({ id: r.id, note }),
      {
        run: async (binding) => {
          const out = await accepts.accept(ctx, r.id, note, binding);
          answer = await acceptAnswer(out, ctx.actor.role);
          return { body: { dispute_id: r.id } };
        },
        resume: (rid) => resumeUnlessFailed(rid, (d) => d.closing?.state === "failed"),
        // no close yet: the request waiting for a second person, which is this accept's answer
        asItStands: (rid) => standing(rid, (d) => d.closing?.state),
      },
    );
    // answers stored before kept the whole answer
    const stored = res.body as { dispute_id?: string; kind?: string };
    if (!answer && stored.kind) answer = res.body as Awaited<ReturnType<typeof acceptAnswer>>;
    answer ??= await acceptResumed(stored.dispute_id ?? r.id, ctx.actor.role);
    return { ...answer, replayed: res.replayed };
  }

  return {
    list,
    /** `role`: the caller's, whose `actions` the answer lists (none: every action) */
    get: async (id: string, role?: string | null) => await detail(await load(id), role),
    addNote,
    assign,
    saveEvidence,
    uploadFile,
    submit,
    accept,
    /** `{dispute_id}` may be ours (`dsp_…`, the Stripe id it stands for is pulled) or Stripe's */
    sync: async (ctx: CallContext, id?: string) => {
      if (id === undefined || !id.startsWith("dsp_")) return await syncer.sync(ctx, id);
      const record = (await getDispute(kv, id)).value;
      if (!record) {
        throw new AppError("not_found", `no dispute ${id}`, {
          errors: [{
            path: "body.dispute_id",
            message: `no dispute ${id} (GET /api/admin/payments/disputes lists them)`,
          }],
        });
      }
      return await syncer.sync(ctx, record.stripe_dispute);
    },
    remind: reminders.run,
    reconcileSubmission: submitter.reconcileOne,
    /** the approvals queue's `dispute.accept` executor */
    executeApprovedAccept: (ctx: CallContext, request: ApprovalRequest) =>
      accepts.executeApproved(ctx, request),
    jobHandlers: () => ({
      ...submissionJobHandlers(kv, submitter),
      [DISPUTE_CLOSE_RECONCILE_JOB]: closeJobHandler(kv, accepts.reconcileClose),
    }),
  };
}

export type DisputeService = ReturnType<typeof createDisputeService>;

/** The reconciliation job for submissions whose outcome at Stripe is unknown. */
function submissionJobHandlers(
  kv: Deno.Kv,
  submitter: DisputeSubmitter,
): Record<string, JobHandler> {
  return {
    [DISPUTE_SUBMIT_RECONCILE_JOB]: async (job: Job) => {
      const { dispute_id } = job.payload as { dispute_id: string };
      const outcome = await submitter.reconcileOne(dispute_id);
      const still = (await getDispute(kv, dispute_id)).value?.submission?.state;
      if (outcome === "unknown" || still === "processing") {
        throw new AppError(
          "unavailable",
          `the submission of ${dispute_id} is still unknown at Stripe; trying again later`,
        );
      }
    },
  };
}

/** The reconciliation job for accepts whose close at Stripe has an unknown outcome. */
function closeJobHandler(
  kv: Deno.Kv,
  reconcile: (id: string) => Promise<string>,
): JobHandler {
  return async (job: Job) => {
    const { dispute_id } = job.payload as { dispute_id: string };
    const outcome = await reconcile(dispute_id);
    const still = (await getDispute(kv, dispute_id)).value?.closing?.state;
    if (outcome === "unknown" || still === "processing") {
      throw new AppError(
        "unavailable",
        `the close of ${dispute_id} is still unknown at Stripe; trying again later`,
      );
    }
  };
}

/** For main.ts's cron: one pass of the deadline reminders. */
export function runDisputeReminders(services: { disputes: DisputeService }) {
  return services.disputes.remind();
}

export function disputeJobHandlers(
  services: { disputes: DisputeService },
): Record<string, JobHandler> {
  return services.disputes.jobHandlers();
}
