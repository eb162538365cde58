/**
 * Finishing authorizations: capture (all or part) or cancel a PaymentIntent in
 * `requires_capture`, exactly once, as refunds and retries do: the action is
 * recorded before the call (one per payment: a second click, or a capture
 * racing a cancel, is told what was done), the call carries
 * `authorization:<aut id>`, the answer is applied like a webhook and settles
 * the action; an unknown outcome is settled by reconciliation reading the
 * PaymentIntent, never by a second call. Alerts before an authorization
 * lapses: authorization_expiry.ts.
 */

import type { Deps } from "../deps.ts";

import { type CallContext, systemContext } from "../../domain/actor.ts";
import { AppError, notFound } from "../../core/errors.ts";

import { attemptStripe, stripeAnsweredAt } from "../stripe/mod.ts";
import { addJob } from "../../kv/jobs.ts";
import { addJobRemoval } from "../../kv/refunds.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import { readTransactionState } from "../../kv/transactions.ts";
import {
  addCreateAuthorizationAction,
  addUpdateAuthorizationAction,
  type AuthorizationAction,
  getActionOfTransaction,
  getAuthorizationAction,
  listAuthorizationActionIds,
} from "../../kv/authorizations.ts";

import { bindParts } from "../../core/bind.ts";
import {
  actionableAmounts,
  type ActionRequest,
  type AuthorizationServices,
  type AuthParts,
  newAuthorizationAction,
  type Outcome,
  outcomeOfPi,
  requestIdOf,
} from "./authorization_parts.ts";

export const AUTHORIZATION_RECONCILE_JOB = "authorization.reconcile";
const RECONCILE_AFTER_MS = 60_000;

export type { ActionRequest, AuthorizationServices } from "./authorization_parts.ts";

/** The first commit: the action, the payment's one-action key, the job, the audit entry. */
function record(
  p: AuthParts,
  ctx: CallContext,
  txnId: string,
  req: ActionRequest,
  binding: IdempotencyBinding | null,
): Promise<AuthorizationAction> {
  const { kv, clock, svc } = p;
  const id = svc.newId("aut");
  return svc.audit.commit(ctx, async (op) => {
    const state = await readTransactionState(kv, txnId);
    const txn = state.txn.value;
    if (!txn) throw notFound("transaction", txnId);
    const done = await getActionOfTransaction(kv, txnId);
    if (done.value) {
      const earlier = (await getAuthorizationAction(kv, done.value)).value;
      throw new AppError(
        "conflict",
        `this authorization was already sent a ${earlier?.kind ?? "capture or cancel"} ` +
          `(${done.value}, ${earlier?.status ?? "processing"}); it is finished once`,
        { extra: { action_id: done.value, action_status: earlier?.status ?? null } },
      );
    }
    const status = state.sync.value?.pi?.status ?? txn.status;
    const { paymentIntent, capturable, amount } = actionableAmounts(txnId, txn, status, req);
    op.check(state.sync);
    const now = clock.now();
    const iso = new Date(now).toISOString();
    const job = addJob(op, clock, svc.newId, AUTHORIZATION_RECONCILE_JOB, { action_id: id }, {
      dueAt: now + RECONCILE_AFTER_MS,
      maxAttempts: 60,
    });
    const a = newAuthorizationAction({
      id,
      txn,
      req,
      paymentIntent,
      capturable,
      amount,
      requestedBy: ctx.actor.id,
      job: { id: job.id, due_at: job.due_at },
      iso,
    });
    addCreateAuthorizationAction(op, a);
    await binding?.bind(op, id);
    return {
      value: a,
      audit: [{
        action: `authorization.${req.kind}`,
        target: { type: "transaction", id: txn.id },
        result: "ok",
        after: { action_id: id, amount_to_capture: amount, reason: a.reason, status: a.status },
        reason: a.note,
        stripe: { idempotency_key: a.stripe_idempotency_key },
      }],
    };
  });
}

async function settle(p: AuthParts, ctx: CallContext, id: string, outcome: Outcome): Promise<void> {
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
    return {
      value: null,
      audit: [{
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

function callStripe(p: AuthParts, a: AuthorizationAction) {
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
    { label: `payment_intents.${a.kind}` },
  );
}

/** Sends a recorded action once; a refusal settles it failed and throws Stripe's problem (502). */
async function send(
  p: AuthParts,
  ctx: CallContext,
  a: AuthorizationAction,
): Promise<AuthorizationAction> {
  const { kv, log, svc } = p;
  const attempt = await callStripe(p, a);
  if (attempt.kind === "try_again" || attempt.kind === "unknown") {
    // No answer about the action: reconciliation reads the PaymentIntent later.
    log.warn("authorization outcome unknown; left to reconciliation", {
      action_id: a.id,
      error: attempt.error,
    });
    return (await getAuthorizationAction(kv, a.id)).value ?? a;
  }
  if (attempt.kind === "refused") {
    const error = attempt.error;
    const s = (error.extra?.stripe ?? {}) as { code?: string; request_id?: string };
    await settle(p, ctx, a.id, {
      status: "failed",
      stripe_status: null,
      failure_code: s.code ?? "stripe_refused",
      failure_message: error.message,
      stripe_request_id: s.request_id ?? null,
    });
    throw new AppError(error.code, error.message, {
      extra: { ...error.extra, action_id: a.id },
      cause: error,
    });
  }
  const pi = attempt.value;
  try {
    await svc.confirmer.applyPaymentIntent(ctx, a.transaction_id, pi, {
      request_id: requestIdOf(pi),
      idempotency_key: a.stripe_idempotency_key,
    }, stripeAnsweredAt(pi));
    const outcome = outcomeOfPi(a, pi);
    if (outcome) await settle(p, ctx, a.id, { ...outcome, stripe_request_id: requestIdOf(pi) });
  } catch (error) {
    // Stripe acted: never answer an error for it; reconciliation settles it (202).
    log.error("authorization done at Stripe, not settled yet", { action_id: a.id, error });
  }
  return (await getAuthorizationAction(kv, a.id)).value ?? a;
}

/** Reads the PaymentIntent; never sends the action again. */
async function reconcileOne(p: AuthParts, id: string): Promise<"settled" | "unknown" | "skipped"> {
  const { kv, clock, deps, svc } = p;
  const a = (await getAuthorizationAction(kv, id)).value;
  if (!a || a.status !== "processing") return "skipped";
  const ctx = systemContext("cron:reconcile_authorizations");
  const pi = await deps.stripe.call(
    (s) => s.paymentIntents.retrieve(a.stripe_payment_intent, { expand: ["latest_charge"] }),
    { priority: "background", label: "payment_intents.retrieve" },
  );
  await svc.confirmer.applyPaymentIntent(ctx, a.transaction_id, pi, null, stripeAnsweredAt(pi));
  const outcome = outcomeOfPi(a, pi);
  if (outcome) {
    await settle(p, ctx, id, outcome);
    return "settled";
  }
  if (clock.now() - Date.parse(a.created_at) < RECONCILE_AFTER_MS) return "unknown";
  await settle(p, ctx, id, {
    status: "failed",
    stripe_status: pi.status,
    failure_code: "not_received_by_stripe",
    failure_message: `Stripe shows no ${a.kind}: the authorization is untouched; act again`,
  });
  return "settled";
}

async function reconcile(p: AuthParts, limit = 200): Promise<number> {
  const { kv, clock, log } = p;
  let n = 0;
  for (const id of await listAuthorizationActionIds(kv, "processing", limit)) {
    const a = (await getAuthorizationAction(kv, id)).value;
    if (!a || clock.now() - Date.parse(a.created_at) < RECONCILE_AFTER_MS) continue;
    try {
      if (await reconcileOne(p, id) === "settled") n++;
    } catch (error) {
      log.warn("authorization reconciliation failed; will try again", { action_id: id, error });
    }
  }
  return n;
}

export function createAuthorizations(deps: Deps, svc: AuthorizationServices) {
  const p: AuthParts = { kv: deps.kv, clock: deps.clock, log: deps.log, deps, svc };

  return {
    record: bindParts(p, record),
    send: bindParts(p, send),
    reconcileOne: bindParts(p, reconcileOne),
    reconcile: bindParts(p, reconcile),
  };
}

export type Authorizations = ReturnType<typeof createAuthorizations>;
