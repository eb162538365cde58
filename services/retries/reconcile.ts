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
 *
 * An attempt whose request stopped before its confirm (the attach's answer
 * lost) is closed, its attach learned and audited (attach.ts).
 *
 * An attempt waiting on the customer (`requires_action`), or authorized and
 * waiting for its capture or release (`requires_capture`), is read from Stripe
 * too once it has waited `RETRY_WAITING_CHECK_AFTER_MS`, then after doubling
 * waits: if its webhook was lost, Stripe's answer settles it all the same.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import { type CallContext, systemContext } from "../../domain/actor.ts";
import { RETRY_RECONCILE_ACTOR } from "../../domain/system_actors.ts";
import { piSnap } from "../ingest/mod.ts";
import { stripeAnsweredAt, stripeRequestId } from "../stripe/mod.ts";
import {
  getRetry,
  listRetryIdsByStatus,
  markRetryChecked,
  type RetryRecord,
} from "../../kv/retries.ts";
import type { RetryConfirmer } from "./confirm.ts";
import type { Attachments } from "./attach.ts";
import { type AnswerDetails, outcomeOfPi, releasesAttempt } from "./settlement.ts";
import { RETRY_RECONCILE_AFTER_MS } from "./in_flight.ts";
import { isRetryWaiting } from "../../domain/retry.ts";

/** Stripe keeps idempotency keys 24 h; past this, a confirm with the same key could act anew. */
export const RETRY_RECONFIRM_WINDOW_MS = 23 * 3600 * 1000;

/** A 3-D Secure challenge takes minutes; an attempt still waiting after this is read from Stripe. */
export const RETRY_WAITING_CHECK_AFTER_MS = 15 * 60_000;

export type RetryReconcileOutcome = "settled" | "not_received" | "unknown" | "waiting" | "skipped";

export interface RetryReconcileSummary {
  settled: number;
  not_received: number;
  unknown: number;
  /** waiting on the customer, read from Stripe and found still waiting */
  waiting: number;
}

/**
 * Whether an attempt waiting on the customer is due for a read from Stripe:
 * `RETRY_WAITING_CHECK_AFTER_MS` after it started waiting, then each wait as
 * long as the whole wait so far (15 min, 30 min, 1 h, …).
 */
export function waitingCheckDue(r: RetryRecord, now: number): boolean {
  if (!isRetryWaiting(r.status)) return false;
  const since = Date.parse(r.updated_at);
  const last = r.stripe_checked_at ? Date.parse(r.stripe_checked_at) : since;
  return now - last >= Math.max(RETRY_WAITING_CHECK_AFTER_MS, last - since);
}

/**
 * Reads the attempt's PaymentIntent and applies it like a webhook; `waiting`
 * is what a customer still has to do (3-D Secure), answered with the outcome,
 * and the read's Stripe request id, which a settlement it decides carries
 * (README "Retrying failed payments": `retry.settle` with Stripe's request id).
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
  const waiting = {
    ...(pi.status === "requires_action"
      ? { next_action: pi.next_action, client_secret: pi.client_secret }
      : {}),
    stripe_request_id: stripeRequestId(pi),
  };
  answers.set(record.id, waiting);
  try {
    await confirmer.applyPaymentIntent(ctx, record.transaction_id, pi, null, stripeAnsweredAt(pi));
  } finally {
    answers.delete(record.id);
  }
  return { pi, waiting };
}

export function createRetryReconciler(
  deps: Deps,
  { confirmer, attachments }: { confirmer: RetryConfirmer; attachments: Attachments },
  answers: AnswerDetails,
) {
  const { kv, clock, log } = deps;
  const ctx = systemContext(RETRY_RECONCILE_ACTOR);

  async function reconcileOne(id: string): Promise<RetryReconcileOutcome> {
    const record = (await getRetry(kv, id)).value;
    if (record && waitingCheckDue(record, clock.now())) return await checkWaiting(record);
    if (!record || record.status !== "processing") return "skipped";
    // Its request stopped before the confirm, Stripe's answer to the attach unknown.
    if (record.attach?.status === "pending") {
      if (clock.now() - Date.parse(record.created_at) < RETRY_RECONCILE_AFTER_MS) return "unknown";
      return await attachments.closeUnconfirmed(ctx, record);
    }
    const { pi, waiting } = await readAndApply(deps, { confirmer, answers }, ctx, record);
    const after = (await getRetry(kv, id)).value;
    if (!after || after.status !== "processing") return "settled";
    const outcome = outcomeOfPi(after, piSnap(pi, Math.floor(clock.now() / 1000)));
    if (outcome) {
      await confirmer.settleDirect(
        ctx,
        id,
        { ...outcome, ...waiting },
        "reconcile",
        false,
        releasesAttempt(outcome),
      );
      return "settled";
    }
    if (pi.status === "processing") return "unknown";
    const age = clock.now() - Date.parse(record.created_at);
    if (age < RETRY_RECONCILE_AFTER_MS) return "unknown";
    if (age < RETRY_RECONFIRM_WINDOW_MS) return await reconfirm(record);
    await confirmer.settleDirect(ctx, id, {
      status: "failed",
      stripe_status: pi.status,
      stripe_request_id: waiting.stripe_request_id,
      failure_code: "not_received_by_stripe",
      failure_message: "Stripe shows no trace of this attempt a day after it was sent (its " +
        "idempotency key has expired): nothing was charged; the payment can be retried again",
    }, "reconcile");
    log.warn("retry never reached Stripe; closed", { retry_id: id });
    return "not_received";
  }

  /** Reads a waiting attempt's PaymentIntent: settled from it, or noted as still waiting. */
  async function checkWaiting(record: RetryRecord): Promise<RetryReconcileOutcome> {
    const { pi, waiting } = await readAndApply(deps, { confirmer, answers }, ctx, record);
    const after = (await getRetry(kv, record.id)).value;
    if (!after || after.status !== record.status) return "settled";
    const outcome = outcomeOfPi(after, piSnap(pi, Math.floor(clock.now() / 1000)));
    if (outcome && outcome.status !== after.status) {
      const release = releasesAttempt(outcome);
      await confirmer.settleDirect(
        ctx,
        record.id,
        { ...outcome, ...waiting },
        "reconcile",
        true,
        release,
      );
      return "settled";
    }
    await markRetryChecked(kv, record.id, record.status, new Date(clock.now()).toISOString());
    return "waiting";
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

  /**
   * The cron's sweep: every `processing` attempt older than a call's timeout,
   * and the attempts waiting on the customer that are due for a read.
   */
  async function sweep(options: { limit?: number } = {}): Promise<RetryReconcileSummary> {
    const summary: RetryReconcileSummary = { settled: 0, not_received: 0, unknown: 0, waiting: 0 };
    const limit = options.limit ?? 200;
    const due: string[] = [];
    for (const id of await listRetryIdsByStatus(kv, "processing", limit)) {
      const r = (await getRetry(kv, id)).value;
      if (r && clock.now() - Date.parse(r.created_at) >= RETRY_RECONCILE_AFTER_MS) due.push(id);
    }
    // the waiting ones not due yet cost a KV read, not a Stripe call: look further for them
    for (const status of ["requires_action", "requires_capture"] as const) {
      for (const id of await listRetryIdsByStatus(kv, status, limit * 10)) {
        if (due.length >= limit * 3) break;
        const r = (await getRetry(kv, id)).value;
        if (r && waitingCheckDue(r, clock.now())) due.push(id);
      }
    }
    for (const id of due) {
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
