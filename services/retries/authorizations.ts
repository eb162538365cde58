/**
 * Finishing authorizations: capture (all or part) or cancel a PaymentIntent in
 * `requires_capture`, exactly once, as refunds and retries do: the action is
 * recorded before the call (one per payment: a capture racing a cancel is
 * told what was done; the same request by whoever sent it, a second click,
 * is answered that action: authorization_repeat.ts), the call carries
 * `authorization:<aut id>`, the answer is applied like a webhook and settles
 * the action; an unknown outcome is settled by reconciliation reading the
 * PaymentIntent, then sending the same call with the same key (README
 * "Retrying failed payments", Exactly once). Alerts before an authorization
 * lapses: authorization_expiry.ts.
 */

import type { Deps } from "../deps.ts";

import { type CallContext, systemContext } from "../../domain/actor.ts";
import { AUTHORIZATION_RECONCILE_ACTOR } from "../../domain/system_actors.ts";
import { AppError, notFound } from "../../core/errors.ts";

import { stripeAnsweredAt, stripeRequestId } from "../stripe/mod.ts";
import { addJob } from "../../kv/jobs.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import { readTransactionState } from "../../kv/transactions.ts";
import {
  addCreateAuthorizationAction,
  addInCallMark,
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
  outcomeOfPi,
} from "./authorization_parts.ts";
import {
  applyAnswer,
  callStripe,
  notSentProblem,
  settle,
  settleNotSent,
  settleRefused,
} from "./authorization_settle.ts";
import { alreadySent, IN_CALL_MS, isSameRequest, SameAction } from "./authorization_repeat.ts";

export const AUTHORIZATION_RECONCILE_JOB = "authorization.reconcile";
const RECONCILE_AFTER_MS = 60_000;
/** Stripe keeps idempotency keys 24 h; past this, the same call could act anew. */
const RESEND_WINDOW_MS = 23 * 3600_000;

export type { ActionRequest, AuthorizationServices } from "./authorization_parts.ts";

/**
 * The first commit; a refusal (409: not an authorization, already acted on;
 * 422: the amount) is audited as denied, as retries' are (README "Retrying
 * failed payments"). The same request sent again by whoever made the action
 * (a second click, a burst) is that action (`repeated`), with nothing written.
 */
async function record(
  p: AuthParts,
  ctx: CallContext,
  txnId: string,
  req: ActionRequest,
  binding: IdempotencyBinding | null,
): Promise<{ action: AuthorizationAction; repeated: boolean }> {
  try {
    return { action: await commitAction(p, ctx, txnId, req, binding), repeated: false };
  } catch (error) {
    if (error instanceof SameAction) return { action: error.action, repeated: true };
    if (error instanceof AppError && REFUSALS.has(error.code)) {
      await p.svc.audit.record(ctx, {
        action: `authorization.${req.kind}`,
        target: { type: "transaction", id: txnId },
        result: "denied",
        reason: error.message,
        after: {
          amount_to_capture: req.kind === "capture" ? req.amount_to_capture ?? null : null,
          ...(req.kind === "cancel" ? { reason: req.reason } : {}),
          ...(error.extra?.action_id ? { action_id: error.extra.action_id } : {}),
        },
      });
    }
    throw error;
  }
}

const REFUSALS = new Set(["conflict", "validation_failed"]);

/** The action, the payment's one-action key, the job, the audit entry. */
function commitAction(
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
      if (earlier && isSameRequest(earlier, req, ctx)) throw new SameAction(earlier);
      throw alreadySent(done.value, earlier, ctx);
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
    addInCallMark(op, id, IN_CALL_MS);
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

/**
 * Sends a recorded action once; a refusal settles it failed and throws 409 when
 * the payment had moved, else Stripe's problem (502). A "try again" (429,
 * `lock_timeout`: Stripe did nothing) settles it failed too, freeing the
 * payment, and throws 503 with Retry-After; only an unknown outcome (a
 * timeout, a 5xx, a lost answer) stays `processing` for reconciliation.
 */
async function send(
  p: AuthParts,
  ctx: CallContext,
  a: AuthorizationAction,
): Promise<AuthorizationAction> {
  const { kv, log } = p;
  const attempt = await callStripe(p, a);
  if (attempt.kind === "try_again") {
    const closed = await settleNotSent(p, ctx, a, attempt.error).then(() => true, (error) => {
      log.error("authorization not closed after Stripe asked to try again", {
        action_id: a.id,
        error,
      });
      return false;
    });
    if (closed) throw notSentProblem(a, attempt.error);
  }
  if (attempt.kind === "try_again" || attempt.kind === "unknown") {
    // No answer about the action: reconciliation reads the PaymentIntent later.
    log.warn("authorization outcome unknown; left to reconciliation", {
      action_id: a.id,
      error: attempt.error,
    });
    return (await getAuthorizationAction(kv, a.id)).value ?? a;
  }
  if (attempt.kind === "refused") {
    throw await settleRefused(p, ctx, a, attempt.error);
  }
  try {
    await applyAnswer(p, ctx, a, attempt.value);
  } catch (error) {
    // Stripe acted: never answer an error for it; reconciliation settles it (202).
    log.error("authorization done at Stripe, not settled yet", { action_id: a.id, error });
  }
  return (await getAuthorizationAction(kv, a.id)).value ?? a;
}

/**
 * Reads the PaymentIntent and settles from it; when it shows no trace, the
 * call may still be held at Stripe or may land later, so the same call is sent
 * again with the same key: Stripe answers with what it did (a 409 while the
 * first still runs: still unknown), or does it now, exactly once either way
 * (README "Retrying failed payments", Exactly once). Never judged by time alone.
 */
async function reconcileOne(p: AuthParts, id: string): Promise<"settled" | "unknown" | "skipped"> {
  const { kv, clock, deps, log } = p;
  const a = (await getAuthorizationAction(kv, id)).value;
  if (!a || a.status !== "processing") return "skipped";
  const ctx = systemContext(AUTHORIZATION_RECONCILE_ACTOR);
  const pi = await deps.stripe.call(
    (s) => s.paymentIntents.retrieve(a.stripe_payment_intent, { expand: ["latest_charge"] }),
    { priority: "background", label: "payment_intents.retrieve" },
  );
  await p.svc.confirmer.applyPaymentIntent(ctx, a.transaction_id, pi, null, stripeAnsweredAt(pi));
  // a settlement this read decides carries its request id (README "Retrying failed payments")
  const read = { stripe_request_id: stripeRequestId(pi) };
  const outcome = outcomeOfPi(a, pi);
  if (outcome) {
    await settle(p, ctx, id, { ...outcome, ...read });
    return "settled";
  }
  const age = clock.now() - Date.parse(a.created_at);
  if (age < RECONCILE_AFTER_MS) return "unknown";
  if (age >= RESEND_WINDOW_MS) {
    await settle(p, ctx, id, {
      status: "failed",
      stripe_status: pi.status,
      failure_code: "not_received_by_stripe",
      failure_message: `Stripe shows no trace of this ${a.kind} a day after it was sent (its ` +
        "idempotency key has expired): the authorization is untouched; act again",
      ...read,
    });
    return "settled";
  }
  const attempt = await callStripe(p, a, "background");
  if (attempt.kind === "answered") {
    await applyAnswer(p, ctx, a, attempt.value);
  } else if (attempt.kind === "refused") {
    await settleRefused(p, ctx, a, attempt.error);
  } else {
    log.info("authorization still unknown at Stripe; asking again later", { action_id: id });
    return "unknown";
  }
  const after = (await getAuthorizationAction(kv, id)).value;
  return after?.status === "processing" ? "unknown" : "settled";
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
