/**
 * Moving the money: the Stripe call of a refund already reserved and recorded
 * `processing`, then the second commit.
 *
 * The call always carries the refund's own idempotency key (`refund:<rfd id>`)
 * and the same parameters, so the request, a retry after a timeout and the
 * reconciliation job's retry are one refund at Stripe. What Stripe answers is
 * applied like a webhook (services/ingest/apply.ts with the settlement hook), so
 * the response, the `refund.*` webhooks and reconciliation settle it in the
 * same way, whichever comes first, and only once. A definite refusal releases
 * the reservation; an unknown outcome (timeout, 5xx, dropped answer) leaves the
 * refund `processing` for reconciliation.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import { type AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import {
  attemptStripe,
  type StripeAttempt,
  type StripePriority,
  stripeRequestId,
} from "../stripe/mod.ts";
import {
  applyToTransaction,
  auditedCommitter,
  idOf,
  type RefundSettlementHook,
  refundSnap,
} from "../ingest/mod.ts";
import { matchesApprovalHash } from "./policy.ts";
import { refusalProblem } from "./request_parts.ts";
import { release, type ReleaseOutcome, releaseRefused } from "./release.ts";
import type { IdFactory } from "../../core/ids.ts";
import { getRefund } from "../../kv/refunds.ts";
import type { RefundRecord } from "../../domain/refund.ts";
import { attach, type ReadAhead, readAheadForSettle } from "./read_ahead.ts";

/** Test seams: simulate the process dying between the Stripe call and the second commit. */
export interface RefundHooks {
  /** runs after Stripe answered, before the second commit; throw to "crash" there */
  afterStripeCall?: (refundId: string, refund: Stripe.Refund) => void | Promise<void>;
}

export interface SubmitServices {
  audit: AuditService;
  newId: IdFactory;
  refundSettlement: RefundSettlementHook;
  hooks?: RefundHooks;
}

export type RefundAttempt = StripeAttempt<Stripe.Refund>;

export function stripeIdempotencyKey(refundId: string): string {
  return `refund:${refundId}`;
}

/** Exactly the same parameters on every attempt: Stripe compares them under one key. */
export function stripeParams(record: RefundRecord): Stripe.RefundCreateParams {
  if (!record.stripe_target) throw new Error(`refund ${record.id} has no Stripe target`);
  return {
    ...record.stripe_target,
    amount: record.amount,
    ...(record.reason ? { reason: record.reason } : {}),
    metadata: { refund_id: record.id, requested_by: record.requested_by },
  };
}

/** What the submitter's steps work with. */
interface Parts {
  deps: Deps;
  svc: SubmitServices;
  kv: Deno.Kv;
  clock: Deps["clock"];
  log: Deps["log"];
  committer: ReturnType<typeof auditedCommitter>;
}

/** One attempt, keyed and parameterised as every other attempt of this refund. */
async function callStripe(
  { deps, log }: Parts,
  record: RefundRecord,
  priority: StripePriority,
): Promise<RefundAttempt> {
  const attempt = await attemptStripe(
    deps.stripe,
    (s) =>
      s.refunds.create(stripeParams(record), { idempotencyKey: record.stripe_idempotency_key }),
    { priority, label: "refunds.create" },
  );
  if (attempt.kind === "unknown" || attempt.kind === "try_again") {
    // in words an operator acts on (README, "Refunds"): nobody sends it again; it settles itself
    const what = attempt.kind === "unknown"
      ? "refund sent, Stripe's answer lost or late; reconciliation reads the outcome from Stripe"
      : "refund not taken by Stripe for now (rate limit or lock); reconciliation sends it again " +
        "under the same idempotency key";
    log.warn(`${what}: do not send it again`, {
      refund_id: record.id,
      outcome: attempt.kind,
      error: attempt.error,
    });
  }
  return attempt;
}

/**
 * Applies Stripe's refund to its transaction (the hook settles our record); `ahead`:
 * read_ahead.ts; `requestId`: Stripe's request that brought it when not its own answer (a list).
 */
async function applyStripeRefund(
  { deps, svc, committer, clock }: Parts,
  ctx: CallContext,
  refund: Stripe.Refund,
  ahead: ReadAhead | null = null,
  requestId: string | null = null,
): Promise<void> {
  const at = Math.floor(clock.now() / 1000);
  if (ahead) attach(refund, ahead);
  const reads = ahead ? { ...deps, kv: ahead.over(deps.kv) } : deps;
  await applyToTransaction(reads, { ...svc, committer }, {
    refs: { pi: idOf(refund.payment_intent), charge: idOf(refund.charge) },
    observations: [{ kind: "refund", snap: refundSnap(refund, at), raw: refund }],
    eventId: null,
    ctx,
    stripeRequest: {
      request_id: requestId ?? stripeRequestId(refund),
      idempotency_key: refund.metadata?.refund_id
        ? stripeIdempotencyKey(refund.metadata.refund_id)
        : null,
    },
  });
}

/**
 * Sends a `processing` refund to Stripe and settles what it says. Throws the
 * refusal's problem (`refusalProblem`) after releasing when Stripe refused;
 * returns the refund still `processing` when the outcome is unknown.
 */
async function submit(
  p: Parts,
  ctx: CallContext,
  record: RefundRecord,
  priority: StripePriority = "interactive",
): Promise<RefundRecord> {
  if (record.approval_hash && !matchesApprovalHash(record)) {
    // Never send anything but what was approved.
    await release(p, ctx, record.id, {
      status: "failed",
      from: ["processing"],
      action: "refund.failed",
      reason: "the refund no longer matches what was approved; nothing was sent to Stripe",
      failure_reason: "approval_mismatch",
    });
    throw new AppError("conflict", `refund ${record.id} no longer matches its approval`);
  }
  const ahead = readAheadForSettle(p.kv, record.id, record.transaction_id);
  const attempt = await callStripe(p, record, priority);
  if (attempt.kind === "refused") {
    await releaseRefused(p, ctx, record, attempt.error);
    throw refusalProblem(attempt.error, record);
  }
  if (attempt.kind === "answered") {
    await p.svc.hooks?.afterStripeCall?.(record.id, attempt.value);
    try {
      await applyStripeRefund(p, ctx, attempt.value, ahead);
    } catch (error) {
      // The money moved: never answer an error for it. The refund stays `processing`
      // (202) and reconciliation or the webhook settles it.
      if (!(error instanceof AppError)) throw error;
      p.log.warn("refund made at Stripe but not settled yet; left to reconciliation", {
        refund_id: record.id,
        stripe_refund: attempt.value.id,
        error,
      });
    }
  }
  return (await getRefund(p.kv, record.id)).value ?? record;
}

export function createRefundSubmitter(deps: Deps, svc: SubmitServices) {
  const { kv, clock, log } = deps;
  const p: Parts = { deps, svc, kv, clock, log, committer: auditedCommitter(svc.audit) };
  return {
    callStripe: (record: RefundRecord, priority: StripePriority) => callStripe(p, record, priority),
    applyStripeRefund: (ctx: CallContext, refund: Stripe.Refund, requestId?: string | null) =>
      applyStripeRefund(p, ctx, refund, null, requestId ?? null),
    release: (ctx: CallContext, id: string, outcome: ReleaseOutcome) =>
      release(p, ctx, id, outcome),
    releaseRefused: (ctx: CallContext, record: RefundRecord, error: AppError) =>
      releaseRefused(p, ctx, record, error),
    submit: (ctx: CallContext, record: RefundRecord, priority?: StripePriority) =>
      submit(p, ctx, record, priority),
  };
}

export type RefundSubmitter = ReturnType<typeof createRefundSubmitter>;
