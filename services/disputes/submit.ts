/**
 * Submitting evidence, once per round, the way refunds move money once
 * (services/refunds): the submission is recorded `processing` with its
 * idempotency key and a reconciliation job in one checked, audited commit
 * BEFORE Stripe is called; concurrent requests race on that commit and only
 * one wins (the others find the round taken: 409). The call carries the key
 * (`dispute-submit:<dsp>:<round>:<attempt>`) and the frozen draft, so a retry
 * within 23 h is the same submission at Stripe. Stripe's answer, the
 * `charge.dispute.updated` webhook or reconciliation settles it through the
 * dispute hook, whichever is first; a definite refusal frees the round, and so
 * does a "try again" (429) on the first send, never on a later one.
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { systemContext } from "../../domain/actor.ts";
import { SUBMIT_RECONCILE_ACTOR } from "../../domain/system_actors.ts";
import type { IdFactory } from "../../core/ids.ts";
import { notFound } from "../../core/errors.ts";
import { holdsEvidence } from "../../domain/dispute_evidence.ts";
import { stripeRequestId } from "../stripe/mod.ts";
import { RECONCILE_AFTER_MS, SAME_KEY_WINDOW_MS } from "../refunds/mod.ts";
import {
  deadlineRefusal,
  type DisputeRecord,
  isClosedStatus,
  phaseOf,
  refusedDraftField,
  roundSubmission,
  submitRefusal,
} from "../../domain/dispute.ts";
import { getDispute, getDraft } from "../../kv/disputes.ts";
import { addJob } from "../../kv/jobs.ts";
import { addJobRemoval } from "../../kv/refunds.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import { type Attempt, sendSubmission } from "./submit_call.ts";
import { readBackRefused } from "./read_back.ts";
import type { DisputeApplier } from "./apply.ts";
import { disputeChanged } from "./record_change.ts";
import { auditingRefusals, draftFieldRefused, emptyDraft, refused } from "./refusals.ts";

export const DISPUTE_SUBMIT_RECONCILE_JOB = "dispute.reconcile_submission";

interface Submitter {
  deps: Deps;
  svc: { audit: AuditService; newId: IdFactory; applyDispute: DisputeApplier };
}

export function createDisputeSubmitter(deps: Deps, svc: Submitter["svc"]) {
  const s: Submitter = { deps, svc };
  return {
    submit: (ctx: CallContext, id: string, binding: IdempotencyBinding | null) =>
      submit(s, ctx, id, binding),
    reconcileOne: (id: string) => reconcileOne(s, id),
  };
}

/**
 * This admin's own submission of the round, of the draft as it still is: sent
 * again (a second click, a retry without a key, a burst), it answers that
 * submission with nothing written and nothing sent (README, "Dispute
 * workbench", Submitting once). Anyone else's submit stays a 409.
 */
export function sameSubmission(r: DisputeRecord, ctx: CallContext): boolean {
  const s = roundSubmission(r);
  if (!s || s.requested_by !== ctx.actor.id || isClosedStatus(r.status) || !r.draft) return false;
  // older records keep the hash only in the submission's history line
  const submitted = s.draft_hash ??
    r.history.findLast((h) =>
      h.action === "submit" && h.by === s.requested_by && h.at === s.requested_at
    )?.changes?.draft_hash;
  return submitted === r.draft.hash;
}

/**
 * The first commit: the submission exists, `processing`, before anything is
 * sent; `again` when it already did, by this admin (`sameSubmission`).
 */
function recordSubmission(
  s: Submitter,
  ctx: CallContext,
  id: string,
  binding: IdempotencyBinding | null,
) {
  return s.svc.audit.commit(ctx, async (op) => {
    const entry = await getDispute(s.deps.kv, id);
    const r = entry.value;
    if (!r) throw notFound("dispute", id);
    if (sameSubmission(r, ctx)) return { value: { record: r, again: true }, audit: [] };
    const now = s.deps.clock.now();
    const refusal = submitRefusal(r, now, ctx);
    if (refusal) throw refused(id, refusal);
    // no draft at all holds no evidence either: the same 422 (README "Dispute workbench")
    if (!r.draft || !holdsEvidence(await getDraft(s.deps.kv, id))) throw emptyDraft(id);
    // Stripe refused this draft's stage on one field: submitting it would fail there too
    const refusedField = refusedDraftField(r.draft);
    if (refusedField) throw draftFieldRefused(id, refusedField, r.draft.stage_error);
    const at = new Date(now).toISOString();
    const round = r.submission_count;
    const attempt = r.submission?.round === round ? r.submission.attempt + 1 : 1;
    const job = addJob(op, s.deps.clock, s.svc.newId, DISPUTE_SUBMIT_RECONCILE_JOB, {
      dispute_id: id,
    }, {
      dueAt: now + RECONCILE_AFTER_MS,
      maxAttempts: 20,
    });
    const next: DisputeRecord = {
      ...r,
      submission: {
        round,
        attempt,
        state: "processing",
        stripe_idempotency_key: `dispute-submit:${id}:${round}:${attempt}`,
        requested_by: ctx.actor.id,
        requested_at: at,
        draft_hash: r.draft.hash,
        sent_at: at,
        settled_at: null,
        failure: null,
        job: { id: job.id, due_at: job.due_at },
      },
      updated_at: at,
    };
    const line = {
      at,
      by: ctx.actor.id,
      action: "submit",
      changes: { round, draft_hash: r.draft.hash },
    };
    const done = disputeChanged(op, entry as Deno.KvEntry<DisputeRecord>, { next, line }, {
      action: "dispute.submit",
      result: "ok",
      before: { phase: r.phase, submission_count: r.submission_count },
      after: { phase: phaseOf(next), round, draft_hash: r.draft.hash },
      stripe: { idempotency_key: next.submission!.stripe_idempotency_key },
    });
    await binding?.bind(op, id);
    return { value: { record: done.value, again: false }, audit: done.audit };
  });
}

/** Frees the round: Stripe refused (or never received) the submission, as `requestId` showed. */
function release(
  s: Submitter,
  ctx: CallContext,
  id: string,
  reason: string,
  requestId: string | null,
) {
  return s.svc.audit.commit(ctx, async (op) => {
    const entry = await getDispute(s.deps.kv, id);
    const r = entry.value;
    if (!r?.submission || r.submission.state !== "processing") {
      return { value: r, audit: [] };
    }
    const at = new Date(s.deps.clock.now()).toISOString();
    if (r.submission.job) addJobRemoval(op, r.submission.job);
    const next: DisputeRecord = {
      ...r,
      submission: {
        ...r.submission,
        state: "failed",
        failure: reason,
        settled_at: at,
        job: null,
      },
      updated_at: at,
    };
    const line = { at, by: ctx.actor.id, action: "submit_failed", changes: { failure: reason } };
    return disputeChanged(op, entry as Deno.KvEntry<DisputeRecord>, { next, line }, {
      action: "dispute.submit_failed",
      result: "failed",
      before: { submission: "processing" },
      after: { submission: "failed", phase: phaseOf(next) },
      reason,
      stripe: { request_id: requestId, idempotency_key: r.submission.stripe_idempotency_key },
    });
  });
}

/** `first`: no earlier send of this submission, so a "try again" proves it did not go in. */
async function settle(
  s: Submitter,
  ctx: CallContext,
  r: DisputeRecord,
  attempt: Attempt,
  first: boolean,
) {
  if (attempt.kind === "answered") {
    await s.svc.applyDispute(ctx, attempt.dispute, r.submission!.stripe_idempotency_key);
  } else if (attempt.kind === "refused" || (attempt.kind === "try_again" && first)) {
    await release(s, ctx, r.id, attempt.error.message, stripeRequestId(attempt.error));
  }
}

/**
 * POST /disputes/{id}/submit: the submission, or Stripe's refusal (502) once
 * released; the same admin's submit again answers the first one's.
 */
async function submit(
  s: Submitter,
  ctx: CallContext,
  id: string,
  binding: IdempotencyBinding | null,
): Promise<DisputeRecord> {
  const what = { action: "dispute.submit", id };
  const { record: r, again } = await auditingRefusals(
    s.svc.audit,
    ctx,
    what,
    () => recordSubmission(s, ctx, id, binding),
  );
  // the first submit's submission (settled, or still waiting for Stripe): never sent again here
  if (again) return r;
  const attempt = await sendSubmission(s.deps, r, "interactive");
  await settle(s, ctx, r, attempt, true);
  if (attempt.kind === "refused") {
    // Stripe's word on why (a deadline it says has passed): recorded, and answered as ours
    await readBackRefused(s.deps, s.svc.applyDispute, ctx, r, attempt.error);
    const now = (await getDispute(s.deps.kv, id)).value;
    const late = now && deadlineRefusal(now, s.deps.clock.now());
    if (late) throw refused(id, `${late}: Stripe refused the submission for it`);
  }
  if (attempt.kind === "refused" || attempt.kind === "try_again") throw attempt.error;
  return (await getDispute(s.deps.kv, id)).value ?? r;
}

const NOT_SUBMITTED = "not submitted at Stripe a day after it was sent; submit again";

/** The job: same key within 23 h; after that, Stripe's count says whether it went in. */
async function reconcileOne(
  s: Submitter,
  id: string,
): Promise<"settled" | "released" | "unknown" | "skipped"> {
  const ctx = systemContext(SUBMIT_RECONCILE_ACTOR);
  const r = (await getDispute(s.deps.kv, id)).value;
  if (!r?.submission || r.submission.state !== "processing") return "skipped";
  if (
    s.deps.clock.now() - Date.parse(r.submission.sent_at ?? r.submission.requested_at) <
      SAME_KEY_WINDOW_MS
  ) {
    const attempt = await sendSubmission(s.deps, r, "background");
    // an earlier send's outcome is unknown: a "try again" now leaves it for the next run
    await settle(s, ctx, r, attempt, false);
    return attempt.kind === "answered"
      ? "settled"
      : attempt.kind === "refused"
      ? "released"
      : "unknown";
  }
  const dispute = await s.deps.stripe.call(
    (s) => s.disputes.retrieve(r.stripe_dispute),
    { priority: "background", label: "disputes.retrieve" },
  );
  if ((dispute.evidence_details?.submission_count ?? 0) > r.submission.round) {
    await s.svc.applyDispute(ctx, dispute);
    return "settled";
  }
  await release(s, ctx, id, NOT_SUBMITTED, stripeRequestId(dispute));
  return "released";
}

export type DisputeSubmitter = ReturnType<typeof createDisputeSubmitter>;
