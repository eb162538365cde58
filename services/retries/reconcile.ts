/**
 * Reconciliation of attempts whose confirm got no answer (a timeout, a 5xx,
 * a dropped connection, the process dying between the call and the second
 * commit). It first reads the PaymentIntent and applies it like a webhook,
 * which settles the attempt when the PaymentIntent shows its outcome. A
 * PaymentIntent still showing the state from before the attempt proves
 * nothing (the confirm may be held at Stripe and land later), so the same
 * confirm is sent again with the same idempotency key while Stripe keeps it:
 * Stripe answers what it did, or acts now, once. Only past that window is the
 * attempt closed `failed` (`not_received_by_stripe`).
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import { type CallContext, systemContext } from "../../domain/actor.ts";
import { piSnap } from "../ingest/mod.ts";
import { getRetry, listRetryIdsByStatus, type RetryRecord } from "../../kv/retries.ts";
import type { RetryConfirmer } from "./confirm.ts";
import { type AnswerDetails, outcomeOfPi } from "./settlement.ts";
import { RETRY_RECONCILE_AFTER_MS } from "./request.ts";

/** Stripe keeps idempotency keys 24 h; past this, a confirm with the same key could act anew. */
export const RETRY_RECONFIRM_WINDOW_MS = 23 * 3600 * 1000;

export const RETRY_RECONCILE_ACTOR = "cron:reconcile_retries";

export type RetryReconcileOutcome = "settled" | "not_received" | "unknown" | "skipped";

export interface RetryReconcileSummary {
  settled: number;
  not_received: number;
  unknown: number;
}

/**
 * Reads the attempt's PaymentIntent and applies it like a webhook; `waiting`
 * is what a customer still has to do (3-D Secure), answered with the outcome.
 */
async function readAndApply(
  deps: Deps,
  { confirmer, answers }: { confirmer: RetryConfirmer; answers: AnswerDetails },
  ctx: CallContext,
  record: RetryRecord,
) {
  const pi: Stripe.PaymentIntent = await deps.stripe.call(
    (s) => s.paymentIntents.retrieve(record.stripe_payment_intent, { expand: ["latest_charge"] }),
    { priority: "background", label: "payment_intents.retrieve" },
  );
  const waiting = pi.status === "requires_action"
    ? { next_action: pi.next_action, client_secret: pi.client_secret }
    : {};
  answers.set(record.id, waiting);
  try {
    await confirmer.applyPaymentIntent(ctx, record.transaction_id, pi, null);
  } finally {
    answers.delete(record.id);
  }
  return { pi, waiting };
}

export function createRetryReconciler(
  deps: Deps,
  confirmer: RetryConfirmer,
  answers: AnswerDetails,
) {
  const { kv, clock, log } = deps;
  const ctx = systemContext(RETRY_RECONCILE_ACTOR);

  async function reconcileOne(id: string): Promise<RetryReconcileOutcome> {
    const record = (await getRetry(kv, id)).value;
    if (!record || record.status !== "processing") return "skipped";
    const { pi, waiting } = await readAndApply(deps, { confirmer, answers }, ctx, record);
    const after = (await getRetry(kv, id)).value;
    if (!after || after.status !== "processing") return "settled";
    const outcome = outcomeOfPi(after, piSnap(pi, Math.floor(clock.now() / 1000)));
    if (outcome) {
      await confirmer.settleDirect(ctx, id, { ...outcome, ...waiting }, "reconcile");
      return "settled";
    }
    if (pi.status === "processing") return "unknown";
    const age = clock.now() - Date.parse(record.created_at);
    if (age < RETRY_RECONCILE_AFTER_MS) return "unknown";
    if (age < RETRY_RECONFIRM_WINDOW_MS) return await reconfirm(record);
    await confirmer.settleDirect(ctx, id, {
      status: "failed",
      stripe_status: pi.status,
      failure_code: "not_received_by_stripe",
      failure_message: "Stripe shows no trace of this attempt a day after it was sent (its " +
        "idempotency key has expired): nothing was charged; the payment can be retried again",
    }, "reconcile");
    log.warn("retry never reached Stripe; closed", { retry_id: id });
    return "not_received";
  }

  /**
   * The PaymentIntent shows no trace of the attempt: its confirm may still be
   * held at Stripe (a 409 while it runs) or may land later. The same confirm
   * with the same idempotency key settles it for sure: Stripe replays what it
   * did, or acts now, exactly once either way (README "Retries": reconciliation).
   */
  async function reconfirm(record: RetryRecord): Promise<RetryReconcileOutcome> {
    const after = await confirmer.confirm(ctx, record, "reconcile");
    if (after.status === "processing") return "unknown";
    log.info("retry confirmed again with its idempotency key; settled", {
      retry_id: record.id,
      status: after.status,
    });
    return "settled";
  }

  /** The cron's sweep: every `processing` attempt older than a call's timeout. */
  async function sweep(options: { limit?: number } = {}): Promise<RetryReconcileSummary> {
    const summary: RetryReconcileSummary = { settled: 0, not_received: 0, unknown: 0 };
    for (const id of await listRetryIdsByStatus(kv, "processing", options.limit ?? 200)) {
      const r = (await getRetry(kv, id)).value;
      if (!r || clock.now() - Date.parse(r.created_at) < RETRY_RECONCILE_AFTER_MS) continue;
      try {
        const outcome = await reconcileOne(id);
        if (outcome !== "skipped") summary[outcome]++;
      } catch (error) {
        summary.unknown++;
        log.warn("retry reconciliation failed; will try again", { retry_id: id, error });
      }
    }
    return summary;
  }

  return { reconcileOne, sweep };
}

export type RetryReconciler = ReturnType<typeof createRetryReconciler>;
