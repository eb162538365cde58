/**
 * Reconciliation: finishing refunds whose Stripe outcome is unknown (a timeout,
 * a 5xx, an answer lost after Stripe acted, the process dying between the call
 * and the second commit), and expiring approval requests nobody decided.
 *
 * Within `SAME_KEY_WINDOW_MS` of the first send, the refund is simply sent
 * again with the same idempotency key and parameters: Stripe answers with the
 * refund it already made, or makes it now. After that Stripe may have
 * forgotten the key, so the refund is looked up by its `metadata.refund_id`
 * before anything else; not found means no money moved, and it is released.
 * Webhooks settle the same refunds through the same hook, whichever is first.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import { systemContext } from "../../domain/actor.ts";
import { RECONCILE_ACTOR } from "../../domain/system_actors.ts";
import { settleAttempt, stripeRequestId } from "../stripe/mod.ts";
import type { RefundSubmitter } from "./submit.ts";
import { getRefund, listRefundIdsByStatus } from "../../kv/refunds.ts";
import type { RefundRecord } from "../../domain/refund.ts";
import { RECONCILE_AFTER_MS, REFUND_EXPIRE_JOB, REFUND_RECONCILE_JOB } from "./requests.ts";
import type { Job, JobHandler } from "../../kv/jobs.ts";

/** Stripe keeps idempotency keys at least 24 h; an hour of margin against clock skew */
export const SAME_KEY_WINDOW_MS = 23 * 3600_000;

export type ReconcileOutcome = "settled" | "released" | "unknown" | "skipped";

export interface ReconcileSummary {
  settled: number;
  released: number;
  unknown: number;
  expired: number;
}

export interface SweepOptions {
  /** only refunds sent at least this long ago (default RECONCILE_AFTER_MS) */
  olderThanMs?: number;
  /** refunds looked at per status (default 200) */
  limit?: number;
}

/** What reconciling works with. */
interface ReconcileParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  log: Deps["log"];
  deps: Deps;
  submitter: RefundSubmitter;
  ctx: ReturnType<typeof systemContext>;
}

/**
 * Every refund at Stripe for this refund's payment, searched for our id in
 * metadata; `requestId`: Stripe's id of the list request that found it (or
 * of the last one searched), which the settle entry names.
 */
async function findAtStripe(
  p: ReconcileParts,
  record: RefundRecord,
): Promise<{ refund: Stripe.Refund | null; requestId: string | null }> {
  const { deps } = p;
  let startingAfter: string | undefined;
  let requestId: string | null = null;
  for (let page = 0; page < 50; page++) {
    const list = await deps.stripe.call(
      (s) =>
        s.refunds.list({
          ...record.stripe_target!,
          limit: 100,
          ...(startingAfter ? { starting_after: startingAfter } : {}),
        }),
      { priority: "background", label: "refunds.list" },
    );
    requestId = stripeRequestId(list);
    const found = list.data.find((r) => r.metadata?.refund_id === record.id);
    if (found) return { refund: found, requestId };
    if (!list.has_more || list.data.length === 0) return { refund: null, requestId };
    startingAfter = list.data[list.data.length - 1].id;
  }
  return { refund: null, requestId };
}

async function reconcileOne(p: ReconcileParts, id: string): Promise<ReconcileOutcome> {
  const { kv, clock, log, submitter, ctx } = p;
  const record = (await getRefund(kv, id)).value;
  if (!record || record.status !== "processing" || !record.stripe_target) return "skipped";
  const sentAt = Date.parse(record.sent_at ?? record.created_at);
  if (clock.now() - sentAt < SAME_KEY_WINDOW_MS) {
    // A refund still processing here had an attempt whose outcome is unknown: a
    // refusal now is looked up at Stripe before anything is released.
    const attempt = await submitter.callStripe(record, "background");
    let listedBy: string | null = null;
    return await settleAttempt<Stripe.Refund, ReconcileOutcome>(attempt, {
      earlierUnknown: true,
      lookup: async () => {
        const found = await findAtStripe(p, record);
        listedBy = found.requestId;
        return found.refund;
      },
      settle: async (refund) => {
        await submitter.applyStripeRefund(ctx, refund, listedBy);
        return "settled";
      },
      release: async (error) => {
        await submitter.releaseRefused(ctx, record, error);
        return "released";
      },
      pending: () => "unknown",
    });
  }
  const found = await findAtStripe(p, record);
  if (found.refund) {
    await submitter.applyStripeRefund(ctx, found.refund, found.requestId);
    return "settled";
  }
  const released = await submitter.release(ctx, id, {
    status: "failed",
    from: ["processing"],
    action: "refund.failed",
    reason: `not found at Stripe ${Math.round((clock.now() - sentAt) / 3600_000)} h after it ` +
      "was sent: no money moved; ask for the refund again if it is still owed",
    failure_reason: "not_found_at_stripe",
    alert: "refund_lost_at_stripe",
    // the look-up that decided it
    stripe: { request_id: found.requestId, idempotency_key: record.stripe_idempotency_key },
  });
  if (released) log.error("refund not found at Stripe; released", { refund_id: id });
  return "released";
}

/** Releases an approval request past its expiry; false when it is not (yet) expired. */
async function expireOne(p: ReconcileParts, id: string): Promise<boolean> {
  const { kv, clock, submitter, ctx } = p;
  const record = (await getRefund(kv, id)).value;
  if (!record || record.status !== "awaiting_approval") return true;
  if (Date.parse(record.expires_at!) > clock.now()) return false;
  await submitter.release(ctx, id, {
    status: "expired",
    from: ["awaiting_approval"],
    action: "refund.expire",
    reason: `no approval by ${record.expires_at}; the reservation is released`,
  });
  return true;
}

/** The cron's safety net beside the job table: every stale `processing` refund, every expired request. */
async function sweep(p: ReconcileParts, options: SweepOptions = {}): Promise<ReconcileSummary> {
  const { kv, clock, log } = p;
  const olderThan = options.olderThanMs ?? RECONCILE_AFTER_MS;
  const limit = options.limit ?? 200;
  const summary: ReconcileSummary = { settled: 0, released: 0, unknown: 0, expired: 0 };
  for (const id of await listRefundIdsByStatus(kv, "processing", limit)) {
    const record = (await getRefund(kv, id)).value;
    if (!record) continue;
    if (clock.now() - Date.parse(record.sent_at ?? record.created_at) < olderThan) continue;
    try {
      const outcome = await reconcileOne(p, id);
      if (outcome !== "skipped") summary[outcome]++;
    } catch (error) {
      summary.unknown++;
      log.warn("refund reconciliation failed; will try again", { refund_id: id, error });
    }
  }
  for (const id of await listRefundIdsByStatus(kv, "awaiting_approval", limit)) {
    if (await isExpired(p, id) && await expireOne(p, id)) summary.expired++;
  }
  return summary;
}

async function isExpired(p: ReconcileParts, id: string): Promise<boolean> {
  const { kv, clock } = p;
  const record = (await getRefund(kv, id)).value;
  return !!record?.expires_at && Date.parse(record.expires_at) <= clock.now();
}

export function createRefundReconciler(deps: Deps, submitter: RefundSubmitter) {
  const { kv, clock, log } = deps;
  const p: ReconcileParts = {
    kv,
    clock,
    log,
    deps,
    submitter,
    ctx: systemContext(RECONCILE_ACTOR),
  };

  return {
    reconcileOne: (id: string) => reconcileOne(p, id),
    expireOne: (id: string) => expireOne(p, id),
    sweep: (options?: SweepOptions) => sweep(p, options),
  };
}

export type RefundReconciler = ReturnType<typeof createRefundReconciler>;

/** The job table's handlers (`refund.reconcile`, `refund.expire_approval`). */
export function reconcileJobHandlers(reconciler: RefundReconciler): Record<string, JobHandler> {
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
