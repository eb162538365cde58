/**
 * Attempts Stripe provably did not act on (README "Retry policy"): they do not
 * count toward the retry limits. A first confirm or attach Stripe asked to try
 * again (429, `lock_timeout`) closes the attempt `failed` with `NOT_SENT_CODE`
 * and answers 503 with Retry-After; a refusal of the request itself (not a
 * card's decline) fails it as usual, uncounted.
 */
import { AppError } from "../../core/errors.ts";
import { NOT_SENT_CODE } from "../../domain/retry.ts";
import type { RetryRecord } from "../../kv/retries.ts";
import type { RetryOutcome } from "./settlement.ts";

function stripeInfo(error: unknown) {
  const s = error instanceof AppError ? error.extra?.stripe : undefined;
  return s as { type?: string; code?: string; request_id?: string } | undefined;
}

/**
 * Whether Stripe refused the request itself (a bad parameter, the PaymentIntent
 * moved), not the card: nothing reached the card network. Under the attempt's
 * idempotency key this holds for an earlier send too: Stripe would have
 * replayed what that one did (an idempotency error says it saw the key used
 * otherwise, so it proves nothing).
 */
export function refusedUnacted(error: AppError): boolean {
  const type = stripeInfo(error)?.type;
  return type !== "card_error" && type !== "idempotency_error";
}

/** The attempt's outcome when Stripe asked to try again before doing `what`. */
export function notSentOutcome(what: string, error: unknown): RetryOutcome {
  const s = stripeInfo(error);
  return {
    status: "failed",
    stripe_status: null,
    failure_code: NOT_SENT_CODE,
    failure_message: `Stripe refused to ${what} for now (${s?.code ?? "rate limited"}) and ` +
      "did nothing: nothing was charged, and the attempt does not count toward the retry " +
      "limits; retry the payment again",
    stripe_request_id: s?.request_id ?? null,
  };
}

/** The 503 answered for an attempt so closed. */
export function notSentProblem(r: RetryRecord, what: string, error: unknown): AppError {
  const stripe = error instanceof AppError ? error.extra?.stripe : undefined;
  return new AppError(
    "stripe_unavailable",
    `Stripe refused to ${what} for now and did nothing: retry ${r.id} is closed, nothing was ` +
      "charged and it does not count toward the retry limits; send the request again shortly " +
      "(the same Idempotency-Key makes a new attempt)",
    {
      extra: { retry_id: r.id, ...(stripe ? { stripe } : {}) },
      cause: error,
      retryAfter: error instanceof AppError ? error.retryAfter ?? 1 : 1,
    },
  );
}
