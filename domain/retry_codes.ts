/**
 * The decline and failure codes the retry policy (domain/retry.ts) judges by:
 * which issuer declines signal fraud, which no retry of the same card fixes,
 * and the codes this service gives attempts it closes itself (README
 * "Retrying failed payments", Retry policy).
 */

/** Issuer declines that signal fraud: the payment is not retried with any card. */
export const FRAUD_DECLINES: readonly string[] = [
  "fraudulent",
  "lost_card",
  "stolen_card",
  "pickup_card",
  "restricted_card",
  "security_violation",
  "merchant_blacklist",
];

/** Declines that no retry of the same card can fix: only another card may be tried. */
export const HARD_DECLINES: readonly string[] = [
  "expired_card",
  "incorrect_number",
  "invalid_number",
  "invalid_account",
  "invalid_expiry_month",
  "invalid_expiry_year",
  "card_not_supported",
  "currency_not_supported",
  "revocation_of_authorization",
  "revocation_of_all_authorizations",
  "stop_payment_order",
  "new_account_information_available",
  "transaction_not_allowed",
  "do_not_try_again",
];

/** The advice code saying the card's details (CVC, postal code, expiry) must be confirmed. */
export const CONFIRM_CARD_DATA = "confirm_card_data";

/**
 * The failure code of an attempt (or a capture or cancel) closed because Stripe
 * asked to try again (429, `lock_timeout`) before acting on it: nothing was
 * done, and a retry so closed does not count toward the caps.
 */
export const NOT_SENT_CODE = "stripe_unavailable";

/**
 * The failure code of an attempt closed because the payment was paid, authorized
 * or tried at Stripe with another payment method while it was in flight (the
 * customer at the merchant's checkout): nothing was charged by it, and it does
 * not count toward the caps (README "Retrying failed payments", Outcomes).
 */
export const SUPERSEDED_CODE = "superseded";

/** Stripe's own lock on a card declined too often: it refuses that card for 24 h. */
export const CARD_RATE_LIMIT_CODE = "card_decline_rate_limit_exceeded";

export type DeclineClass = "fraud" | "hard" | "soft";

export function declineClass(d: Pick<PriorDecline, "decline_code" | "code">): DeclineClass {
  const code = d.decline_code ?? d.code ?? "";
  if (FRAUD_DECLINES.includes(code)) return "fraud";
  if (HARD_DECLINES.includes(code)) return "hard";
  return "soft";
}

/** A decline already seen on this payment (its first attempt, or an earlier retry). */
export interface PriorDecline {
  /** ms */
  at: number;
  /** the declined card; null when Stripe did not say */
  fingerprint: string | null;
  code: string | null;
  decline_code: string | null;
  advice_code: string | null;
}
