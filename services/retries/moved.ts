/**
 * A payment that moved at Stripe while this service's view lags (its webhooks
 * not arrived yet): paid with another card, canceled, being authenticated.
 * README "Retrying failed payments", Which payments: only a PaymentIntent in
 * `requires_payment_method` is retried, any other status is 409 naming it as
 * Stripe has it now, and the transaction is read from Stripe (applied like a
 * webhook, through the confirmer's `applyPaymentIntent`).
 *
 * Two places find it out: the read before a card is saved on the customer
 * (nothing recorded, nothing saved), and Stripe refusing the confirm with
 * `payment_intent_unexpected_state` (the attempt closed uncounted: Stripe did
 * not act on it, README "Which attempts count").
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { stripeAnsweredAt, type StripePriority } from "../stripe/mod.ts";
import { readTransactionState } from "../../kv/transactions.ts";
import type { RetryRecord } from "../../kv/retries.ts";
import type { RetryOutcome } from "./settlement.ts";
import { notRetryable, retryConflict } from "./retryable.ts";

export const UNEXPECTED_STATE = "payment_intent_unexpected_state";

/** The confirmer's `applyPaymentIntent`: a PaymentIntent read from Stripe applied like a webhook. */
export type ApplyPaymentIntent = (
  ctx: CallContext,
  txnId: string,
  pi: Stripe.PaymentIntent,
  stripeRequest: null,
  answeredAt: number | null,
) => Promise<void>;

/** Whether Stripe refused a confirm because the PaymentIntent is in another status. */
export function isUnexpectedState(error: AppError): boolean {
  return (error.extra?.stripe as { code?: string } | undefined)?.code === UNEXPECTED_STATE;
}

/** The PaymentIntent as Stripe has it now (a read: a failure says nothing changed at Stripe). */
export function readPaymentIntent(
  deps: Pick<Deps, "stripe">,
  id: string,
  priority: StripePriority = "interactive",
): Promise<Stripe.PaymentIntent> {
  return deps.stripe.call(
    (s) => s.paymentIntents.retrieve(id, { expand: ["latest_charge"] }),
    { priority, label: "payment_intents.retrieve" },
  );
}

/** Applies `pi` to its transaction and returns the transaction's status after (logged, not thrown). */
async function follow(
  deps: Pick<Deps, "kv" | "log">,
  apply: ApplyPaymentIntent,
  ctx: CallContext,
  txnId: string,
  pi: Stripe.PaymentIntent,
): Promise<string | null> {
  try {
    await apply(ctx, txnId, pi, null, stripeAnsweredAt(pi));
  } catch (error) {
    // the 409 stands; the webhooks bring the same news later
    deps.log.warn("payment intent read for a retry not applied", { transaction_id: txnId, error });
  }
  return (await readTransactionState(deps.kv, txnId)).txn.value?.status ?? null;
}

/**
 * Before a card is saved on the customer for a retry: the PaymentIntent read
 * from Stripe; when it is no longer waiting for a payment method, the
 * transaction follows Stripe and the retry is refused (409, audited as denied),
 * nothing recorded, nothing saved.
 */
export async function assertWaitingAtStripe(
  deps: Pick<Deps, "kv" | "log" | "stripe">,
  apply: ApplyPaymentIntent,
  ctx: CallContext,
  target: { id: string; txnId: string; pi: string },
): Promise<void> {
  const pi = await readPaymentIntent(deps, target.pi);
  if (pi.status === "requires_payment_method") return;
  const txnStatus = await follow(deps, apply, ctx, target.txnId, pi);
  throw retryConflict(notRetryable(target.id, pi.status, { transaction_status: txnStatus }, true));
}

/** The attempt's outcome when Stripe refused its confirm because the payment is `pi.status`. */
export function movedOutcome(
  pi: Stripe.PaymentIntent,
  requestId: string | null,
): RetryOutcome {
  return {
    status: "failed",
    stripe_status: pi.status,
    failure_code: UNEXPECTED_STATE,
    failure_message: `Stripe refused the confirm: the payment is already ${pi.status} at ` +
      "Stripe, so it cannot be retried; this attempt charged nothing and does not count toward " +
      "the retry limits",
    stripe_request_id: requestId,
  };
}

/**
 * After the attempt was closed by `movedOutcome`: the transaction follows
 * Stripe, and the 409 to answer names the status and the attempt.
 */
export async function movedProblem(
  deps: Pick<Deps, "kv" | "log">,
  apply: ApplyPaymentIntent,
  ctx: CallContext,
  r: RetryRecord,
  pi: Stripe.PaymentIntent,
  refusal: AppError,
): Promise<AppError> {
  const txnStatus = await follow(deps, apply, ctx, r.transaction_id, pi);
  const base = notRetryable(r.transaction_id, pi.status, {}, true);
  return new AppError(
    "conflict",
    `${base.message}. Stripe refused retry ${r.id}'s confirm: it is closed, nothing was ` +
      "charged and it does not count toward the retry limits",
    {
      extra: {
        payment_intent_status: pi.status,
        transaction_status: txnStatus,
        retry_id: r.id,
        ...(refusal.extra?.stripe ? { stripe: refusal.extra.stripe } : {}),
      },
      cause: refusal,
    },
  );
}
