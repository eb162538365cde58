/**
 * Retrying a failed payment: the retry attempt record and the card networks'
 * rules as ONE pure decision (`judgeRetry`), the table the README shows.
 *
 * The networks (Visa's reattempt rules, Mastercard's merchant advice codes)
 * judge retries per card: a decline that says "never" forbids that card, not
 * the customer's next one; a fraud decline makes the whole payment suspect.
 * So every rule below is about the declines already seen on this payment and
 * the card (fingerprint) now offered, but for the card's own state across
 * payments (its uses, Stripe's lock on it). `judgeRetry` runs twice: before any call
 * to Stripe without the card (the payment-wide rules), and in the commit that
 * records the attempt with the card and the counts read there.
 */
import {
  CARD_RATE_LIMIT_CODE,
  CONFIRM_CARD_DATA,
  declineClass,
  type PriorDecline,
} from "./retry_codes.ts";

export {
  CARD_RATE_LIMIT_CODE,
  CONFIRM_CARD_DATA,
  declineClass,
  FRAUD_DECLINES,
  HARD_DECLINES,
  NOT_SENT_CODE,
  SUPERSEDED_CODE,
} from "./retry_codes.ts";
export type { DeclineClass, PriorDecline } from "./retry_codes.ts";

export const RETRY_STATUSES = [
  "processing",
  "succeeded",
  "requires_action",
  "requires_capture",
  "failed",
  "canceled",
] as const;
export type RetryStatus = typeof RETRY_STATUSES[number];

/** Not settled yet: waiting on the customer (3-D Secure), or authorized and not captured. */
export function isRetryWaiting(status: RetryStatus): boolean {
  return status === "requires_action" || status === "requires_capture";
}

const CARD_RATE_LIMIT_MS = 24 * 3600_000;
const DAY_MS = 24 * 3600_000;

export interface RetryLimits {
  maxAttempts: number;
  maxPerCardPerDay: number;
  waitAfterTryAgainS: number;
}

export interface RetryFacts {
  now: number;
  /** oldest first */
  declines: PriorDecline[];
  /** retries already recorded on this payment */
  attempts: number;
  /** the card offered; undefined = not known yet (only the payment-wide rules run) */
  fingerprint?: string | null;
  /** when this card was retried (ms), by anyone on any payment */
  cardUses?: number[];
  /**
   * when Stripe last refused this card as declined too often
   * (`card_decline_rate_limit_exceeded`, ms) on a retry of any payment: its lock is the card's
   */
  cardLockedAt?: number | null;
  /** when the offered card's details were entered (ms, `created`); null: unknown or fixed (test ids) */
  cardEnteredAt?: number | null;
  openFraudAlert: boolean;
  /** that open alert's id, to name it in the refusal */
  openFraudAlertId?: string | null;
  /**
   * what that alert is on: the customer (default), or a card (`card:<fingerprint>`) this payment
   * was declined on or the card offered, before the alert lists the customer
   */
  openFraudAlertOn?: "customer" | "payment_card" | "offered_card";
  /** an alert resolved as fraud that still names the customer (its id) */
  fraudConfirmed?: string | null;
  confirmFraudAlert: boolean;
  note: string | null;
  limits: RetryLimits;
}

export const REFUSAL_REASONS = [
  "fraud_decline",
  "max_attempts",
  "fraud_alert_open",
  "fraud_confirmed",
  "do_not_try_again",
  "hard_decline_same_card",
  "confirm_card_data",
  "card_rate_limited",
  "try_again_later",
  "card_daily_cap",
] as const;
export type RefusalReason = typeof REFUSAL_REASONS[number];

export type RetryVerdict =
  | { ok: true }
  | {
    ok: false;
    reason: RefusalReason;
    detail: string;
    retry_after: string | null;
    /** the request's own field that is missing, when one is (README "API": `errors[]`) */
    errors?: { path: string; message: string }[];
  };

function refuse(
  reason: RefusalReason,
  detail: string,
  retryAt?: number,
  errors?: { path: string; message: string }[],
): RetryVerdict {
  return {
    ok: false,
    reason,
    detail,
    retry_after: retryAt === undefined ? null : new Date(retryAt).toISOString(),
    ...(errors ? { errors } : {}),
  };
}

const codeOf = (d: PriorDecline) => d.decline_code ?? d.code ?? "unknown";

/** The payment-wide rules: they hold whatever card is offered. */
function judgePayment(f: RetryFacts): RetryVerdict | null {
  const fraud = f.declines.find((d) => declineClass(d) === "fraud");
  if (fraud) {
    return refuse(
      "fraud_decline",
      `the bank declined this payment as ${codeOf(fraud)}, a fraud decline: it must not be ` +
        "retried with any card; if the customer is genuine, they pay anew in your checkout",
    );
  }
  if (f.attempts >= f.limits.maxAttempts) {
    return refuse(
      "max_attempts",
      `this payment has had ${f.attempts} retries, the most RETRY_MAX_ATTEMPTS allows ` +
        `(${f.limits.maxAttempts}); ask the customer to pay anew in your checkout`,
    );
  }
  if (f.openFraudAlert && !(f.confirmFraudAlert && f.note?.trim())) {
    const on = f.openFraudAlertOn === "payment_card"
      ? "the card this payment was declined on"
      : f.openFraudAlertOn === "offered_card"
      ? "the card offered"
      : "this customer";
    const alert = f.openFraudAlertId
      ? `fraud alert ${f.openFraudAlertId} is open on ${on}`
      : "the customer has an open fraud alert";
    return refuse(
      "fraud_alert_open",
      `${alert}: ${confirmationMissing(f)}, or resolve the alert first`,
      undefined,
      noteMissing(f),
    );
  }
  if (f.fraudConfirmed && !(f.confirmFraudAlert && f.note?.trim())) {
    return refuse(
      "fraud_confirmed",
      `fraud alert ${f.fraudConfirmed} resolved this customer as fraud: a retry charges them ` +
        `again; ${confirmationMissing(f)}`,
      undefined,
      noteMissing(f),
    );
  }
  return null;
}

/** `confirm_fraud_alert` sent without a note: the field to fill in, as a 422's `errors[]`. */
function noteMissing(f: RetryFacts): { path: string; message: string }[] | undefined {
  if (!f.confirmFraudAlert || f.note?.trim()) return undefined;
  return [{
    path: "body.note",
    message: "confirm_fraud_alert needs a note: say why this retry is safe",
  }];
}

/** What a retry past a fraud alert still lacks, by field (README "Retry policy"). */
function confirmationMissing(f: RetryFacts): string {
  if (f.confirmFraudAlert) {
    return "confirm_fraud_alert came without a note: add one saying why this retry is safe";
  }
  if (f.note?.trim()) return "send confirm_fraud_alert: true with the note";
  return "send confirm_fraud_alert: true and a note saying why this retry is safe";
}

/** The rules about the card offered, against the declines of that same card. */
function judgeCard(f: RetryFacts, fingerprint: string): RetryVerdict | null {
  const same = f.declines.filter((d) => d.fingerprint === fingerprint);
  const never = same.find((d) => d.advice_code === "do_not_try_again");
  if (never) {
    return refuse(
      "do_not_try_again",
      `the bank said do_not_try_again for this card (${codeOf(never)}): the card networks ` +
        "forbid trying it again; ask the customer for another card",
    );
  }
  const hard = same.find((d) => declineClass(d) === "hard");
  if (hard) {
    return refuse(
      "hard_decline_same_card",
      `this card was declined with ${codeOf(hard)}, which a retry cannot fix: use a card ` +
        "with a different fingerprint",
    );
  }
  // The card's details were wrong (a CVC, a postal code): the same details cannot succeed;
  // a payment method entered after the decline carries new ones.
  const data = same.filter((d) => d.advice_code === CONFIRM_CARD_DATA).at(-1);
  if (data && !(f.cardEnteredAt != null && f.cardEnteredAt > data.at)) {
    return refuse(
      "confirm_card_data",
      `the bank declined this card's details (${codeOf(data)}, advice confirm_card_data): ` +
        "the same card with the same details cannot succeed; ask the customer to enter the " +
        "card's details again (a new payment method) or for another card",
    );
  }
  // Stripe's lock is the card's, whatever the payment or customer: this payment's own
  // declines, and the card's on any payment (README "Retry policy").
  const lockedAt = Math.max(
    same.filter((d) => d.code === CARD_RATE_LIMIT_CODE).at(-1)?.at ?? -Infinity,
    f.cardLockedAt ?? -Infinity,
  );
  if (f.now < lockedAt + CARD_RATE_LIMIT_MS) {
    return refuse(
      "card_rate_limited",
      "Stripe locked this card after too many declines (card_decline_rate_limit_exceeded); " +
        "try another card, or this one after the time given",
      lockedAt + CARD_RATE_LIMIT_MS,
    );
  }
  const later = same.filter((d) => d.advice_code === "try_again_later").at(-1);
  const waitMs = f.limits.waitAfterTryAgainS * 1000;
  if (later && f.now < later.at + waitMs) {
    return refuse(
      "try_again_later",
      `the bank asked to try this card again later (${codeOf(later)}); wait ` +
        `RETRY_WAIT_AFTER_TRY_AGAIN_S (${f.limits.waitAfterTryAgainS} s) or use another card`,
      later.at + waitMs,
    );
  }
  const uses = (f.cardUses ?? []).filter((t) => t > f.now - DAY_MS).sort((a, b) => a - b);
  if (uses.length >= f.limits.maxPerCardPerDay) {
    const freeAt = uses[uses.length - f.limits.maxPerCardPerDay] + DAY_MS;
    return refuse(
      "card_daily_cap",
      `this card was retried ${uses.length} times in the last 24 h, the most ` +
        `RETRY_MAX_PER_CARD_PER_DAY allows (${f.limits.maxPerCardPerDay}); Stripe itself ` +
        "locks a card tried too often; use another card",
      freeAt,
    );
  }
  return null;
}

/** The policy table (README "Retry policy"), first matching row wins. */
export function judgeRetry(f: RetryFacts): RetryVerdict {
  const payment = judgePayment(f);
  if (payment) return payment;
  if (f.fingerprint) {
    const card = judgeCard(f, f.fingerprint);
    if (card) return card;
  }
  return { ok: true };
}

/** Card uses within the rolling day, the newest kept (bounded by the cap). */
export function recentCardUses(uses: number[], now: number, keep: number): number[] {
  return uses.filter((t) => t > now - DAY_MS).sort((a, b) => a - b).slice(-Math.max(keep, 1));
}
