/**
 * Sending an attempt's confirm to Stripe and reading what it answers: the call
 * classified by the shared rule (services/stripe `attemptStripe`) and, for an
 * answer or a refusal, the attempt's outcome. Settling it is the confirmer's
 * part (services/retries `confirm.ts`).
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AppError } from "../../core/errors.ts";
import { attemptStripe, stripeAnsweredAt, stripeRequestId } from "../stripe/mod.ts";
import type { RetryRecord } from "../../kv/retries.ts";
import type { RetryOutcome } from "./settlement.ts";
import { ownCharge } from "./pi_outcome.ts";

export type ConfirmAttempt =
  | {
    kind: "answered";
    pi: Stripe.PaymentIntent;
    requestId: string | null;
    answeredAt: number | null;
  }
  | {
    kind: "refused";
    error: AppError;
    pi: Stripe.PaymentIntent | null;
    requestId: string | null;
    answeredAt: number | null;
  }
  | { kind: "try_again"; error: unknown }
  | { kind: "unknown"; error: unknown };

/**
 * One confirm, classified by the shared rule (services/stripe `attemptStripe`):
 * a "try again" (429, lock_timeout) says Stripe did nothing now, but nothing
 * about an earlier send of the same confirm.
 */
export async function confirmAtStripe(
  deps: Pick<Deps, "stripe" | "log">,
  r: RetryRecord,
): Promise<ConfirmAttempt> {
  const { log } = deps;
  const attempt = await attemptStripe(
    deps.stripe,
    (s) =>
      s.paymentIntents.confirm(r.stripe_payment_intent, {
        payment_method: r.payment_method,
        off_session: r.off_session,
        expand: ["latest_charge"],
      }, { idempotencyKey: r.stripe_idempotency_key }),
    { label: "payment_intents.confirm" },
  );
  if (attempt.kind === "answered") {
    return {
      kind: "answered",
      pi: attempt.value,
      requestId: stripeRequestId(attempt.value),
      answeredAt: stripeAnsweredAt(attempt.value),
    };
  }
  if (attempt.kind === "try_again") return { kind: "try_again", error: attempt.error };
  if (attempt.kind !== "refused") {
    log.warn("retry outcome unknown; left to the webhook and reconciliation", {
      retry_id: r.id,
      error: attempt.error,
    });
    return { kind: "unknown", error: attempt.error };
  }
  const error = attempt.error;
  const raw = (error.cause as { raw?: { payment_intent?: Stripe.PaymentIntent } })?.raw;
  const stripe = (error.extra?.stripe ?? {}) as { request_id?: string; type?: string };
  // Only a decline is this attempt's outcome; any other refusal (the PaymentIntent moved
  // meanwhile, a bad parameter) says nothing about the payment, just that we failed.
  const declined = stripe.type === "card_error";
  return {
    kind: "refused",
    error,
    pi: declined ? raw?.payment_intent ?? null : null,
    requestId: stripe.request_id ?? null,
    answeredAt: stripeAnsweredAt(error),
  };
}

/** The id of a field Stripe gives as an id or an expanded object. */
function idOf(v: string | { id: string } | null | undefined): string | null {
  return typeof v === "string" ? v : v?.id ?? null;
}

/**
 * The attempt's outcome from what Stripe answered (null: the webhook tells).
 * Its charge is only one `r` made (pi_outcome.ts `ownCharge`): a 3-D Secure
 * wait makes none, and `latest_charge` then still shows an earlier one.
 */
export function outcomeOfAnswer(
  r: RetryRecord,
  attempt: Extract<ConfirmAttempt, { kind: "answered" | "refused" }>,
): RetryOutcome | null {
  if (attempt.kind === "answered") {
    const pi = attempt.pi;
    // An asynchronous payment method: the webhook tells how it ends.
    if (pi.status === "processing") return null;
    const latest = pi.latest_charge;
    const waiting = pi.status === "requires_action";
    const charge = waiting ? null : ownCharge(
      r,
      idOf(latest),
      typeof latest === "object" && latest ? idOf(latest.payment_method) : undefined,
    );
    return {
      status: waiting
        ? "requires_action"
        : pi.status === "requires_capture"
        ? "requires_capture"
        : "succeeded",
      stripe_status: pi.status,
      next_action: waiting ? pi.next_action : null,
      client_secret: waiting ? pi.client_secret : null,
      stripe_charge: charge,
      stripe_request_id: attempt.requestId,
    };
  }
  const s = (attempt.error.extra?.stripe ?? {}) as Record<string, string | null | undefined>;
  return {
    status: "failed",
    stripe_status: attempt.pi?.status ?? null,
    failure_code: s.code ?? "stripe_refused",
    decline_code: s.decline_code ?? null,
    advice_code: s.advice_code ?? null,
    failure_message: s.message ?? attempt.error.message,
    stripe_charge: ownCharge(
      r,
      attempt.pi?.last_payment_error?.charge,
      idOf(attempt.pi?.last_payment_error?.payment_method),
    ),
    stripe_request_id: attempt.requestId,
  };
}
