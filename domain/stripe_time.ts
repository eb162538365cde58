/**
 * Stripe's times: whole seconds since the Unix epoch (`created`, a dispute's
 * `evidence_details.due_by`, …). The service turns them into ISO times
 * (README "API": every time shown is ISO), which only a value in range can
 * be: a time the service cannot show is refused at the webhook intake
 * (domain/stripe_shape.ts), and one stored before that refusal is shown as
 * null rather than failing the whole answer.
 */

/** 9999-12-31T23:59:59Z: the last second an ISO time (four-digit year) can show. */
export const STRIPE_TIME_MAX_S = 253_402_300_799;

/** Why `value` is no Stripe time (whole seconds, 0 … `STRIPE_TIME_MAX_S`), in words; null if it is. */
export function stripeTimeProblem(value: unknown): string | null {
  if (typeof value !== "number") {
    return `is ${
      value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`
    }`;
  }
  if (!Number.isInteger(value)) return "is not a whole number of seconds";
  if (value < 0 || value > STRIPE_TIME_MAX_S) return "is out of range";
  return null;
}

export function isStripeTime(value: unknown): value is number {
  return stripeTimeProblem(value) === null;
}

/** The ISO time of Stripe's `seconds`; null for none (null, 0) or one that is no Stripe time. */
export function stripeTimeIso(seconds: unknown): string | null {
  if (!seconds || !isStripeTime(seconds)) return null;
  return new Date(seconds * 1000).toISOString();
}
