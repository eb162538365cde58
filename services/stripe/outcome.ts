/**
 * What one attempt of a money-moving Stripe call came to, and what to do
 * next: the shared rule of every operation that calls Stripe after
 * committing its record (refunds; retries and dispute submissions reuse it).
 *
 *   answered   Stripe acted: settle from its object.
 *   refused    Stripe answered no and did nothing: release, unless an
 *              EARLIER attempt's outcome was unknown (it may have acted then;
 *              a refusal now, under another state, says nothing about that):
 *              then look it up at Stripe first and settle what is found.
 *   try_again  429 / `lock_timeout` after the gateway's own retries: Stripe
 *              did nothing now, but that is no answer about the operation;
 *              it stays pending for reconciliation, never released.
 *   unknown    timeout, dropped connection, 5xx: it may have acted; pending.
 */
import type Stripe from "stripe";
import { AppError } from "../../core/errors.ts";
import type { StripeCallOptions, StripeGateway } from "./gateway.ts";
import { stripeOutcome } from "./errors.ts";

export type StripeAttempt<T> =
  | { kind: "answered"; value: T }
  | { kind: "refused"; error: AppError }
  | { kind: "try_again"; error: unknown }
  | { kind: "unknown"; error: unknown };

/** How a failed call ends: refused, try again, or unknown (the safe answer for money). */
export function classifyStripeFailure(error: unknown): "refused" | "try_again" | "unknown" {
  if (stripeOutcome(error) === "unknown") return "unknown";
  // Definite but no answer from Stripe: the budget could not be read, nothing was sent.
  if (!(error instanceof AppError)) return "try_again";
  // A definite answer mapped to 503 is a rate limit or lock_timeout: Stripe did not run it.
  return error.code === "stripe_unavailable" ? "try_again" : "refused";
}

/** Runs one call through the gateway and says what it came to; never throws for Stripe's answers. */
export async function attemptStripe<T>(
  stripe: StripeGateway,
  fn: (client: Stripe) => Promise<T>,
  options: StripeCallOptions = {},
): Promise<StripeAttempt<T>> {
  try {
    return { kind: "answered", value: await stripe.call(fn, options) };
  } catch (error) {
    const kind = classifyStripeFailure(error);
    return kind === "refused" ? { kind, error: error as AppError } : { kind, error };
  }
}

export interface SettleHandlers<T, R> {
  /** an earlier attempt of this operation had an unknown outcome */
  earlierUnknown: boolean;
  /** finds the operation at Stripe (a refund by its metadata, a retry by its PaymentIntent) */
  lookup: () => Promise<T | null>;
  settle: (value: T) => Promise<R>;
  release: (error: AppError) => Promise<R>;
  /** left for reconciliation: nothing is known yet */
  pending: (attempt: StripeAttempt<T>) => R | Promise<R>;
}

/** The one decision after an attempt (see the module comment). */
export async function settleAttempt<T, R>(
  attempt: StripeAttempt<T>,
  h: SettleHandlers<T, R>,
): Promise<R> {
  switch (attempt.kind) {
    case "answered":
      return await h.settle(attempt.value);
    case "refused": {
      if (!h.earlierUnknown) return await h.release(attempt.error);
      const found = await h.lookup();
      return found === null ? await h.release(attempt.error) : await h.settle(found);
    }
    default:
      return await h.pending(attempt);
  }
}
