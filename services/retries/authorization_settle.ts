/**
 * Settling an authorization action (README "Retrying failed payments",
 * Authorizations): the call to Stripe, always with the action's key
 * `authorization:<id>`, and the commit that records what Stripe did (or that
 * it did nothing, when it asked to try again).
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { attemptStripe, stripeAnsweredAt, stripeRequestId } from "../stripe/mod.ts";
import type { StripePriority } from "../stripe/mod.ts";
import { addJobRemoval } from "../../kv/refunds.ts";
import {
  addUpdateAuthorizationAction,
  type AuthorizationAction,
  getAuthorizationAction,
} from "../../kv/authorizations.ts";
import { type AuthParts, type Outcome, outcomeOfPi } from "./authorization_parts.ts";
import type Stripe from "stripe";
import { closeExpiryAlert } from "./authorization_expiry.ts";
import { NOT_SENT_CODE } from "../../domain/retry.ts";

export async function settle(
  p: AuthParts,
  ctx: CallContext,
  id: string,
  outcome: Outcome,
): Promise<void> {
  const { kv, clock, svc } = p;
  await svc.audit.commit(ctx, async (op) => {
    const entry = await getAuthorizationAction(kv, id);
    const before = entry.value;
    if (!before || before.status !== "processing") return { value: null, audit: [] };
    const iso = new Date(clock.now()).toISOString();
    const after: AuthorizationAction = {
      ...before,
      status: outcome.status,
      stripe_status: outcome.stripe_status,
      failure_code: outcome.failure_code ?? null,
      failure_message: outcome.failure_message ?? null,
      stripe_request_id: outcome.stripe_request_id ?? before.stripe_request_id,
      job: null,
      updated_at: iso,
      settled_at: iso,
    };
    addUpdateAuthorizationAction(op, entry as Deno.KvEntry<AuthorizationAction>, after);
    if (before.job) addJobRemoval(op, before.job);
    const done = before.kind === "capture" ? "captured" : "canceled";
    const closed = outcome.status === "succeeded"
      ? await closeExpiryAlert(kv, op, before.transaction_id, ctx.actor.id, `${done} (${id})`, iso)
      : [];
    return {
      value: null,
      audit: [...closed, {
        action: `authorization.${before.kind}.settle`,
        target: { type: "transaction", id: before.transaction_id },
        result: outcome.status === "failed" ? "failed" : "ok",
        before: { status: before.status },
        after: { action_id: id, status: after.status, stripe_status: after.stripe_status },
        reason: after.failure_message,
        stripe: {
          request_id: after.stripe_request_id,
          idempotency_key: after.stripe_idempotency_key,
        },
      }],
    };
  });
}

/** The action's call; every send of it (the first, reconciliation's) carries the same key. */
export function callStripe(
  p: AuthParts,
  a: AuthorizationAction,
  priority: StripePriority = "interactive",
) {
  const { deps } = p;
  const options = { idempotencyKey: a.stripe_idempotency_key };
  return attemptStripe(
    deps.stripe,
    (s) =>
      a.kind === "capture"
        ? s.paymentIntents.capture(a.stripe_payment_intent, {
          amount_to_capture: a.amount_to_capture ?? undefined,
          expand: ["latest_charge"],
        }, options)
        : s.paymentIntents.cancel(a.stripe_payment_intent, {
          cancellation_reason: a.reason ?? undefined,
          expand: ["latest_charge"],
        }, options),
    { label: `payment_intents.${a.kind}`, priority },
  );
}

/** Stripe's answer to the action: the PaymentIntent applied like a webhook, the action settled. */
export async function applyAnswer(
  p: AuthParts,
  ctx: CallContext,
  a: AuthorizationAction,
  pi: Stripe.PaymentIntent,
): Promise<void> {
  await p.svc.confirmer.applyPaymentIntent(ctx, a.transaction_id, pi, {
    request_id: stripeRequestId(pi),
    idempotency_key: a.stripe_idempotency_key,
  }, stripeAnsweredAt(pi));
  const outcome = outcomeOfPi(a, pi);
  if (outcome) await settle(p, ctx, a.id, { ...outcome, stripe_request_id: stripeRequestId(pi) });
}

function stripeInfo(error: unknown) {
  const s = error instanceof AppError ? error.extra?.stripe : undefined;
  return s as { code?: string; request_id?: string } | undefined;
}

/**
 * Stripe asked to try again (429, `lock_timeout`) on the action's first call:
 * it did nothing, so the action is closed `failed` (audited as not done), the
 * payment freed and its job gone: nothing is left for reconciliation to send.
 */
export function settleNotSent(
  p: AuthParts,
  ctx: CallContext,
  a: AuthorizationAction,
  error: unknown,
): Promise<void> {
  const s = stripeInfo(error);
  return settle(p, ctx, a.id, {
    status: "failed",
    stripe_status: null,
    failure_code: NOT_SENT_CODE,
    failure_message: `Stripe refused the ${a.kind} for now (${s?.code ?? "rate limited"}) and ` +
      `did nothing: the authorization is untouched; ${a.kind} it again`,
    stripe_request_id: s?.request_id ?? null,
  });
}

/** The 503 answered for it, with Stripe's Retry-After. */
export function notSentProblem(a: AuthorizationAction, error: unknown): AppError {
  const s = stripeInfo(error);
  return new AppError(
    "stripe_unavailable",
    `Stripe refused the ${a.kind} for now (${s?.code ?? "rate limited"}) and did nothing: ` +
      `${a.id} is closed and the authorization untouched; send the request again shortly ` +
      "(the same Idempotency-Key makes a new one)",
    {
      extra: { action_id: a.id, action_status: "failed", ...(s ? { stripe: s } : {}) },
      cause: error,
      retryAfter: error instanceof AppError ? error.retryAfter ?? 1 : 1,
    },
  );
}

/**
 * Stripe refused the action's call (with its key, so for good): nothing
 * happened; failed. The PaymentIntent is read and applied, so the transaction
 * follows Stripe when the payment had moved (captured elsewhere, canceled,
 * lapsed); the problem to answer names what it is now.
 */
export async function settleRefused(
  p: AuthParts,
  ctx: CallContext,
  a: AuthorizationAction,
  error: AppError,
): Promise<AppError> {
  const pi = await readAndApply(p, ctx, a);
  const s = (error.extra?.stripe ?? {}) as { code?: string; request_id?: string };
  await settle(p, ctx, a.id, {
    status: "failed",
    stripe_status: pi?.status ?? null,
    failure_code: s.code ?? "stripe_refused",
    failure_message: error.message,
    stripe_request_id: s.request_id ?? null,
  });
  const extra = { ...error.extra, action_id: a.id, action_status: "failed" };
  if (!pi || pi.status === "requires_capture") {
    return new AppError(error.code, error.message, { extra, cause: error });
  }
  const now = MOVED[pi.status] ?? pi.status;
  return new AppError(
    "conflict",
    `Stripe refused the ${a.kind}: the payment ${pi.id} is already ${pi.status} at Stripe ` +
      `(${now}); this authorization can no longer be captured or canceled`,
    { extra: { ...extra, payment_intent_status: pi.status }, cause: error },
  );
}

const MOVED: Record<string, string> = {
  succeeded: "captured",
  canceled: "released, or lapsed uncaptured",
};

/** The PaymentIntent as Stripe has it now, applied like a webhook; null when it cannot be read. */
async function readAndApply(p: AuthParts, ctx: CallContext, a: AuthorizationAction) {
  try {
    const pi = await p.deps.stripe.call(
      (s) => s.paymentIntents.retrieve(a.stripe_payment_intent, { expand: ["latest_charge"] }),
      { label: "payment_intents.retrieve" },
    );
    await p.svc.confirmer.applyPaymentIntent(ctx, a.transaction_id, pi, null, stripeAnsweredAt(pi));
    return pi;
  } catch (error) {
    p.log.warn("payment intent not read after a refusal", { action_id: a.id, error });
    return null;
  }
}
