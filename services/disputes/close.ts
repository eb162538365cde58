/**
 * Closing a dispute at Stripe after an accept's go-ahead, the way a
 * submission is sent (services/disputes/submit.ts): the close is recorded
 * `processing` with its idempotency key and a reconciliation job in the
 * decision's commit (services/disputes/accept.ts), before Stripe is called.
 * Stripe's answer, the `charge.dispute.closed` webhook or the job settles it;
 * only a definite refusal is recorded as a failure, never an unknown outcome.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { systemContext } from "../../domain/actor.ts";
import { CLOSE_RECONCILE_ACTOR } from "../../domain/system_actors.ts";
import type { IdFactory } from "../../core/ids.ts";
import { AppError } from "../../core/errors.ts";
import {
  classifyStripeFailure,
  stripeOutcome,
  type StripePriority,
  stripeRequestId,
} from "../stripe/mod.ts";
import { RECONCILE_AFTER_MS, SAME_KEY_WINDOW_MS } from "../refunds/mod.ts";
import { type DisputeClosing, type DisputeRecord, phaseOf } from "../../domain/dispute.ts";
import { getDispute } from "../../kv/disputes.ts";
import { addJob } from "../../kv/jobs.ts";
import { addJobRemoval } from "../../kv/refunds.ts";
import type { DisputeApplier } from "./apply.ts";
import { disputeChanged } from "./record_change.ts";
import { resyncHint } from "./refusals.ts";

export const DISPUTE_CLOSE_RECONCILE_JOB = "dispute.reconcile_close";

interface Closer {
  deps: Deps;
  svc: { audit: AuditService; newId: IdFactory; applyDispute: DisputeApplier };
}

type Attempt =
  | { kind: "answered"; dispute: Stripe.Dispute }
  | { kind: "refused"; error: AppError }
  /** 429 (`rate_limit`, `lock_timeout`): Stripe did nothing now, which says nothing of before */
  | { kind: "try_again"; error: AppError }
  | { kind: "unknown"; error: unknown };

/** The close, `processing`, and its reconciliation job, added to the decision's commit. */
export function addClosing(
  deps: Deps,
  newId: IdFactory,
  op: Deno.AtomicOperation,
  r: DisputeRecord,
  go: { by: string; at: string; approvalId: string | null },
): DisputeClosing {
  const now = deps.clock.now();
  const job = addJob(op, deps.clock, newId, DISPUTE_CLOSE_RECONCILE_JOB, { dispute_id: r.id }, {
    dueAt: now + RECONCILE_AFTER_MS,
    maxAttempts: 20,
  });
  const attempt = (r.closing?.attempt ?? 0) + 1;
  return {
    state: "processing",
    attempt,
    stripe_idempotency_key: `dispute-close:${r.id}:${attempt}`,
    requested_by: go.by,
    requested_at: go.at,
    approval_id: go.approvalId,
    settled_at: null,
    failure: null,
    job: { id: job.id, due_at: job.due_at },
  };
}

async function callClose(c: Closer, r: DisputeRecord, priority: StripePriority): Promise<Attempt> {
  const key = r.closing!.stripe_idempotency_key;
  try {
    const dispute = await c.deps.stripe.call(
      (s) => s.disputes.close(r.stripe_dispute, {}, { idempotencyKey: key }),
      { priority, label: "disputes.close", refresh: resyncHint(r.id) },
    );
    return { kind: "answered", dispute };
  } catch (error) {
    if (stripeOutcome(error) === "definite" && error instanceof AppError) {
      const kind = classifyStripeFailure(error) === "try_again" ? "try_again" : "refused";
      return { kind, error };
    }
    c.deps.log.warn("dispute close outcome unknown; left to reconciliation", {
      dispute_id: r.id,
      error,
    });
    return { kind: "unknown", error };
  }
}

/**
 * Records a refused close: the dispute is free again (a new go-ahead takes a new
 * key); `requestId`: Stripe's request that showed it (the refusal, or the read).
 */
function release(
  c: Closer,
  ctx: CallContext,
  id: string,
  reason: string,
  requestId: string | null,
) {
  return c.svc.audit.commit(ctx, async (op) => {
    const entry = await getDispute(c.deps.kv, id);
    const r = entry.value;
    if (!r?.closing || r.closing.state !== "processing") return { value: r, audit: [] };
    const at = new Date(c.deps.clock.now()).toISOString();
    if (r.closing.job) addJobRemoval(op, r.closing.job);
    const next: DisputeRecord = {
      ...r,
      closing: { ...r.closing, state: "failed", failure: reason, settled_at: at, job: null },
      updated_at: at,
    };
    const line = { at, by: ctx.actor.id, action: "accept_failed", changes: { failure: reason } };
    return disputeChanged(op, entry as Deno.KvEntry<DisputeRecord>, { next, line }, {
      action: "dispute.accept_failed",
      result: "failed",
      before: { closing: "processing" },
      after: { closing: "failed", phase: phaseOf(next) },
      reason,
      stripe: { request_id: requestId, idempotency_key: r.closing.stripe_idempotency_key },
    });
  });
}

/**
 * A 429 frees the dispute only on the first send, when nothing was sent before;
 * on reconciliation's send it proves nothing about the first, still unknown
 * (README "Dispute workbench": only a refusal by Stripe frees the dispute).
 */
async function settle(
  c: Closer,
  ctx: CallContext,
  r: DisputeRecord,
  attempt: Attempt,
  first: boolean,
) {
  if (attempt.kind === "answered") {
    await c.svc.applyDispute(ctx, attempt.dispute, r.closing!.stripe_idempotency_key);
  } else if (attempt.kind === "refused" || (attempt.kind === "try_again" && first)) {
    await release(c, ctx, r.id, attempt.error.message, stripeRequestId(attempt.error));
  }
}

export function createDisputeCloser(deps: Deps, svc: Closer["svc"]) {
  const c: Closer = { deps, svc };

  /** Closes at Stripe: a refusal throws; an unknown outcome leaves it `processing`. */
  async function close(ctx: CallContext, r: DisputeRecord): Promise<DisputeRecord> {
    const attempt = await callClose(c, r, "interactive");
    await settle(c, ctx, r, attempt, true);
    if (attempt.kind === "refused" || attempt.kind === "try_again") throw attempt.error;
    return (await getDispute(deps.kv, r.id)).value ?? r;
  }

  /** The job: the same key within 23 h; after that, Stripe's status says whether it closed. */
  async function reconcileOne(id: string): Promise<"settled" | "released" | "unknown" | "skipped"> {
    const ctx = systemContext(CLOSE_RECONCILE_ACTOR);
    const r = (await getDispute(deps.kv, id)).value;
    if (!r?.closing || r.closing.state !== "processing") return "skipped";
    if (deps.clock.now() - Date.parse(r.closing.requested_at) < SAME_KEY_WINDOW_MS) {
      const attempt = await callClose(c, r, "background");
      await settle(c, ctx, r, attempt, false);
      return attempt.kind === "answered"
        ? "settled"
        : attempt.kind === "refused"
        ? "released"
        : "unknown";
    }
    const dispute = await deps.stripe.call(
      (s) => s.disputes.retrieve(r.stripe_dispute),
      { priority: "background", label: "disputes.retrieve" },
    );
    await svc.applyDispute(ctx, dispute);
    const now = (await getDispute(deps.kv, id)).value;
    if (now?.closing?.state !== "processing") return "settled";
    await release(
      c,
      ctx,
      id,
      "not closed at Stripe a day after it was sent; accept again",
      stripeRequestId(dispute),
    );
    return "released";
  }

  return { close, reconcileOne };
}

export type DisputeCloser = ReturnType<typeof createDisputeCloser>;
