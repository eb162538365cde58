/**
 * What a PaymentIntent state says about a retry attempt (README "Retrying
 * failed payments", Outcomes): a decline is this attempt's only when the
 * PaymentIntent shows a charge or an error it did not show when the attempt
 * was recorded (`prior`); a payment, an authorization or a 3-D Secure wait is
 * this attempt's only when it is with the attempt's payment method; one made
 * with another closes the attempt `superseded`, uncounted. The charge an
 * outcome names is only one this attempt made (`ownCharge`): never the
 * PaymentIntent's earlier one, which `latest_charge` keeps showing through a
 * 3-D Secure wait or failure.
 */
import type { PiSnap } from "../../domain/transaction.ts";
import { SUPERSEDED_CODE } from "../../domain/retry.ts";
import type { RetryRecord } from "../../kv/retries.ts";

/** What one piece of news says about an attempt. */
export interface RetryOutcome {
  status: "succeeded" | "requires_action" | "requires_capture" | "failed" | "canceled";
  stripe_status: string | null;
  failure_code?: string | null;
  decline_code?: string | null;
  advice_code?: string | null;
  failure_message?: string | null;
  next_action?: unknown | null;
  client_secret?: string | null;
  stripe_charge?: string | null;
  stripe_request_id?: string | null;
}

/**
 * `charge` when it is this attempt's own (README "Retrying failed payments",
 * Outcomes): one the PaymentIntent did not show when the attempt was recorded
 * (`prior`: the checkout's decline, an earlier attempt's), made with the
 * attempt's payment method when Stripe says which (`Charge.payment_method`,
 * `last_payment_error.payment_method`); otherwise null.
 */
export function ownCharge(
  record: Pick<RetryRecord, "prior" | "payment_method">,
  charge: string | null | undefined,
  paymentMethod?: string | null,
): string | null {
  if (!charge) return null;
  if (charge === record.prior?.latest_charge || charge === record.prior?.error_charge) return null;
  if (typeof paymentMethod === "string" && paymentMethod !== record.payment_method) return null;
  return charge;
}

/** Whether Stripe names a payment method on `pi` (or its error) other than the attempt's. */
function anotherMethod(record: RetryRecord, pm: string | null | undefined): boolean {
  return typeof pm === "string" && pm !== record.payment_method;
}

/** The attempt closed because the payment went ahead at Stripe with another payment method. */
function supersededOutcome(pi: PiSnap, other: string): RetryOutcome {
  const what = pi.status === "succeeded"
    ? "paid"
    : pi.status === "requires_capture"
    ? "authorized"
    : "tried (and declined)";
  return {
    status: "failed",
    stripe_status: pi.status,
    stripe_charge: null,
    failure_code: SUPERSEDED_CODE,
    failure_message: `the payment was ${what} at Stripe with another payment method (${other}) ` +
      "while this attempt was in flight: this attempt charged nothing and does not count " +
      "toward the retry limits",
  };
}

/** Whether `outcome` closes the attempt uncounted (Stripe charged nothing with its card). */
export function releasesAttempt(outcome: RetryOutcome): boolean {
  return outcome.failure_code === SUPERSEDED_CODE;
}

/** The outcome a PaymentIntent state means for `record`, or null when it says nothing about it. */
export function outcomeOfPi(record: RetryRecord, pi: PiSnap): RetryOutcome | null {
  const base = { stripe_status: pi.status, stripe_charge: ownCharge(record, pi.latest_charge) };
  // Paid or authorized with another payment method: this attempt's confirm can no longer act.
  const other = anotherMethod(record, pi.payment_method) ? pi.payment_method! : null;
  if (pi.status === "succeeded") {
    return other ? supersededOutcome(pi, other) : { ...base, status: "succeeded" };
  }
  // Authorized only: nothing is charged until it is captured (or released: canceled).
  if (pi.status === "requires_capture") {
    if (record.status === "requires_capture") return null;
    return other ? supersededOutcome(pi, other) : { ...base, status: "requires_capture" };
  }
  // Another payment method being authenticated: this attempt's confirm may still land after it.
  if (pi.status === "requires_action") {
    // a 3-D Secure wait makes no charge: `latest_charge` is still an earlier one
    return record.status === "processing" && !other
      ? { ...base, status: "requires_action", stripe_charge: null }
      : null;
  }
  if (pi.status === "canceled" && record.status === "requires_capture") {
    return {
      ...base,
      status: "canceled",
      failure_message: "the authorization was released (the PaymentIntent was canceled): " +
        "nothing was charged",
    };
  }
  if (pi.status === "canceled") {
    return {
      ...base,
      status: "failed",
      failure_code: "payment_intent_canceled",
      failure_message: "the PaymentIntent was canceled before this attempt finished",
    };
  }
  if (pi.status === "requires_payment_method" && pi.error) {
    // Another payment method declined: not this attempt's decline. One in flight may still land;
    // one waiting on 3-D Secure was replaced by it at Stripe.
    const declined = pi.error.payment_method_id;
    if (anotherMethod(record, declined)) {
      return record.status === "requires_action" ? supersededOutcome(pi, declined!) : null;
    }
    const fresh = record.status === "requires_action" ||
      pi.latest_charge !== record.prior.latest_charge ||
      pi.error.charge !== record.prior.error_charge;
    if (!fresh) return null;
    return {
      ...base,
      status: "failed",
      failure_code: pi.error.code,
      decline_code: pi.error.decline_code,
      advice_code: pi.error.advice_code,
      failure_message: pi.error.message,
      // a failed 3-D Secure names no charge (it made none); a decline names its own
      stripe_charge: pi.error.charge
        ? ownCharge(record, pi.error.charge, declined)
        : ownCharge(record, pi.latest_charge, declined),
    };
  }
  return null;
}
