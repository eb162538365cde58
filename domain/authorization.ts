/**
 * Card authorizations (PaymentIntents in `requires_capture`): how an operator
 * may release one, and when one lapses (README "Retrying failed payments",
 * Authorizations).
 */
const DAY_MS = 24 * 3600_000;

/** Stripe's `cancellation_reason` values an operator may give when releasing an authorization. */
export const CANCELLATION_REASONS = [
  "duplicate",
  "fraudulent",
  "requested_by_customer",
  "abandoned",
] as const;
export type CancellationReason = typeof CANCELLATION_REASONS[number];

/** Card authorizations lapse 7 days after they were made (Stripe releases them then). */
export const CARD_AUTHORIZATION_TTL_MS = 7 * DAY_MS;
/** An ops alert is raised this long before an authorization lapses. */
export const AUTHORIZATION_ALERT_BEFORE_MS = DAY_MS;

/**
 * When an authorization made at `createdMs` lapses (Stripe's `capture_before`
 * when it gave one, else 7 days), and whether it is within the alert window.
 */
export function authorizationExpiry(
  createdMs: number,
  now: number,
  captureBeforeMs: number | null = null,
) {
  const expiresAt = captureBeforeMs ?? createdMs + CARD_AUTHORIZATION_TTL_MS;
  return { expires_at: expiresAt, due_for_alert: now >= expiresAt - AUTHORIZATION_ALERT_BEFORE_MS };
}
