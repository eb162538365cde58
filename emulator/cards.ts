import { ApiError } from "./errors.ts";
import { stableToken } from "./ids.ts";
import type { StripeObject } from "./object.ts";

/** What happens when a card is charged, after Stripe's documented test cards. */
export type CardBehavior =
  | { kind: "ok"; risk: "normal" | "elevated" | "highest"; after?: CardAftermath }
  | { kind: "decline"; decline: Decline }
  | { kind: "block" }
  // "always": every payment needs 3D Secure; "on_setup": only until the card is set up
  // for future use (then off-session payments go through), as Stripe's 3155 card does.
  | { kind: "auth_required"; when: "always" | "on_setup" };
export type CardAftermath =
  | "dispute"
  | "dispute_inquiry"
  | "dispute_not_received"
  | "early_fraud_warning"
  | "refund_fail"
  | "refund_pending";

/** A card_error as Stripe reports it: `code`, `decline_code`, `advice_code`, message. */
export interface Decline {
  code: string;
  decline_code?: string;
  advice_code?: string;
  message: string;
  param?: string;
}

const OK: CardBehavior = { kind: "ok", risk: "normal" };
const DECLINED = "Your card was declined.";

function declined(
  declineCode: string,
  adviceCode: string,
  message = DECLINED,
  code = "card_declined",
  param?: string,
): CardBehavior {
  const decline: Decline = { code, decline_code: declineCode, advice_code: adviceCode, message };
  if (param) decline.param = param;
  return { kind: "decline", decline };
}

/** A card that is charged normally, and then something follows (a dispute, say). */
function then(after: CardAftermath): CardBehavior {
  return { kind: "ok", risk: "normal", after };
}

/** A card that needs 3D Secure: `when` as in `CardBehavior`. */
function needsAuth(when: "always" | "on_setup"): CardBehavior {
  return { kind: "auth_required", when };
}

interface TestCard {
  number: string;
  behavior: CardBehavior;
  funding?: string;
}

// Stripe's test PaymentMethods (`pm_card_<name>`; `tok_<name>` for legacy Charges) and the
// outcome Stripe documents for each. Advice codes follow Stripe's three values: lost,
// stolen and fraudulent cards are `do_not_try_again`, wrong card data `confirm_card_data`,
// everything the issuer may approve later `try_again_later`.
const TEST_CARDS: Record<string, TestCard> = {
  visa: { number: "4242424242424242", behavior: OK },
  visa_debit: { number: "4000056655665556", behavior: OK, funding: "debit" },
  mastercard: { number: "5555555555554444", behavior: OK },
  mastercard_debit: { number: "5200828282828210", behavior: OK, funding: "debit" },
  mastercard_prepaid: { number: "5105105105105100", behavior: OK, funding: "prepaid" },
  amex: { number: "378282246310005", behavior: OK },
  discover: { number: "6011111111111117", behavior: OK },
  diners: { number: "3056930009020004", behavior: OK },
  jcb: { number: "3566002020360505", behavior: OK },
  unionpay: { number: "6200000000000005", behavior: OK },
  chargeDeclined: {
    number: "4000000000000002",
    behavior: declined("generic_decline", "try_again_later"),
  },
  chargeDeclinedInsufficientFunds: {
    number: "4000000000009995",
    behavior: declined(
      "insufficient_funds",
      "try_again_later",
      "Your card has insufficient funds.",
    ),
  },
  chargeDeclinedLostCard: {
    number: "4000000000009987",
    behavior: declined("lost_card", "do_not_try_again"),
  },
  chargeDeclinedStolenCard: {
    number: "4000000000009979",
    behavior: declined("stolen_card", "do_not_try_again"),
  },
  chargeDeclinedExpiredCard: {
    number: "4000000000000069",
    behavior: declined(
      "expired_card",
      "confirm_card_data",
      "Your card has expired.",
      "expired_card",
      "exp_month",
    ),
  },
  chargeDeclinedIncorrectCvc: {
    number: "4000000000000127",
    behavior: declined(
      "incorrect_cvc",
      "confirm_card_data",
      "Your card's security code is incorrect.",
      "incorrect_cvc",
      "cvc",
    ),
  },
  chargeDeclinedProcessingError: {
    number: "4000000000000119",
    behavior: declined(
      "processing_error",
      "try_again_later",
      "An error occurred while processing your card. Try again in a little bit.",
      "processing_error",
    ),
  },
  chargeDeclinedVelocityLimitExceeded: {
    number: "4000000000006975",
    behavior: declined("card_velocity_exceeded", "try_again_later"),
  },
  // Attaching succeeds; every charge fails (Stripe's 0341 card).
  chargeCustomerFail: {
    number: "4000000000000341",
    behavior: declined("generic_decline", "try_again_later"),
  },
  // One card number: Radar blocks it as fraudulent (`chargeDeclinedFraudulent`, `radarBlock`).
  chargeDeclinedFraudulent: { number: "4100000000000019", behavior: { kind: "block" } },
  radarBlock: { number: "4100000000000019", behavior: { kind: "block" } },
  riskLevelElevated: { number: "4000000000009235", behavior: { kind: "ok", risk: "elevated" } },
  riskLevelHighest: { number: "4000000000004954", behavior: { kind: "ok", risk: "highest" } },
  createDispute: { number: "4000000000000259", behavior: then("dispute") },
  createDisputeProductNotReceived: {
    number: "4000000000002685",
    behavior: then("dispute_not_received"),
  },
  createDisputeInquiry: { number: "4000000000001976", behavior: then("dispute_inquiry") },
  createEarlyFraudWarning: { number: "4000000000005423", behavior: then("early_fraud_warning") },
  refundFail: { number: "4000000000005126", behavior: then("refund_fail") },
  // Stripe's "asynchronous success" refund card: a refund goes pending, then succeeds.
  refundPending: { number: "4000000000007726", behavior: then("refund_pending") },
  authenticationRequired: { number: "4000002760003184", behavior: needsAuth("always") },
  authenticationRequiredOnSetup: { number: "4000002500003155", behavior: needsAuth("on_setup") },
};

/** Card number behind a test id: `pm_card_visa` for PaymentMethods, `tok_visa` for Charges. */
export function magicCardNumber(id: string): string | undefined {
  const m = /^(?:pm_card_|tok_)(\w+)$/.exec(id);
  return m ? TEST_CARDS[m[1]]?.number : undefined;
}

export function cardFingerprint(number: string): string {
  return stableToken(`fingerprint:${number}`, 16);
}

const BY_FINGERPRINT = new Map(
  Object.values(TEST_CARDS).map((c) => [cardFingerprint(c.number), c]),
);

export function behaviorOf(fingerprint: string): CardBehavior {
  return BY_FINGERPRINT.get(fingerprint)?.behavior ?? OK;
}

function luhnValid(number: string): boolean {
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let d = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function brandOf(number: string): string {
  if (number.startsWith("4")) return "visa";
  if (/^(5[1-5]|2[2-7])/.test(number)) return "mastercard";
  if (/^3[47]/.test(number)) return "amex";
  if (/^6(011|5)/.test(number)) return "discover";
  if (/^3(0[0-5]|[68])/.test(number)) return "diners";
  if (/^35/.test(number)) return "jcb";
  if (/^62/.test(number)) return "unionpay";
  return "unknown";
}

/** The `card` hash of a PaymentMethod (Stripe.PaymentMethod.Card); refuses bad numbers. */
export function cardDetails(number: string, expMonth: number, expYear: number): StripeObject {
  const digits = number.replace(/\s+/g, "");
  if (!/^\d{12,19}$/.test(digits) || !luhnValid(digits)) {
    throw new ApiError(402, {
      type: "card_error",
      code: "incorrect_number",
      message: "Your card number is incorrect.",
      param: "card[number]",
    });
  }
  const brand = brandOf(digits);
  const fingerprint = cardFingerprint(digits);
  return {
    brand,
    checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
    country: "US",
    display_brand: brand,
    exp_month: expMonth,
    exp_year: expYear,
    fingerprint,
    funding: BY_FINGERPRINT.get(fingerprint)?.funding ?? "credit",
    generated_from: null,
    last4: digits.slice(-4),
    networks: { available: [brand], preferred: null },
    regulated_status: "unregulated",
    three_d_secure_usage: { supported: true },
    wallet: null,
  };
}
