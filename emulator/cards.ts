import { ApiError } from "./errors.ts";
import { stableToken } from "./ids.ts";
import type { StripeObject } from "./store.ts";

/** What happens when a card is charged, after Stripe's documented test cards. */
export type CardBehavior =
  | { kind: "ok"; risk: "normal" | "elevated" | "highest"; after?: CardAftermath }
  | { kind: "decline"; decline_code: string; advice_code: string; message: string }
  | { kind: "block" }
  | { kind: "auth_required" };
export type CardAftermath = "dispute" | "early_fraud_warning" | "refund_fail";

const OK: CardBehavior = { kind: "ok", risk: "normal" };
const DECLINED = "Your card was declined.";

const TEST_CARDS: Record<string, CardBehavior> = {
  "4242424242424242": OK,
  "5555555555554444": OK,
  "378282246310005": OK,
  "4000000000000002": {
    kind: "decline",
    decline_code: "generic_decline",
    advice_code: "try_again_later",
    message: DECLINED,
  },
  "4000000000009995": {
    kind: "decline",
    decline_code: "insufficient_funds",
    advice_code: "try_again_later",
    message: "Your card has insufficient funds.",
  },
  "4000000000009987": {
    kind: "decline",
    decline_code: "lost_card",
    advice_code: "do_not_try_again",
    message: DECLINED,
  },
  "4000000000009979": {
    kind: "decline",
    decline_code: "stolen_card",
    advice_code: "do_not_try_again",
    message: DECLINED,
  },
  "4100000000000019": { kind: "block" },
  "4000000000000259": { kind: "ok", risk: "normal", after: "dispute" },
  "4000000000009235": { kind: "ok", risk: "elevated" },
  "4000000000004954": { kind: "ok", risk: "highest" },
  "4000002500003155": { kind: "auth_required" },
  "4000000000005126": { kind: "ok", risk: "normal", after: "refund_fail" },
  "4000000000005423": { kind: "ok", risk: "normal", after: "early_fraud_warning" },
};

const MAGIC_SUFFIXES: Record<string, string> = {
  visa: "4242424242424242",
  mastercard: "5555555555554444",
  amex: "378282246310005",
  chargeDeclined: "4000000000000002",
  chargeDeclinedInsufficientFunds: "4000000000009995",
  chargeDeclinedLostCard: "4000000000009987",
  chargeDeclinedStolenCard: "4000000000009979",
  radarBlock: "4100000000000019",
  createDispute: "4000000000000259",
  riskLevelElevated: "4000000000009235",
  riskLevelHighest: "4000000000004954",
  authenticationRequired: "4000002500003155",
  refundFail: "4000000000005126",
  createEarlyFraudWarning: "4000000000005423",
};

/** Card number behind a test id: `pm_card_visa` for PaymentMethods, `tok_visa` for Charges. */
export function magicCardNumber(id: string): string | undefined {
  const m = /^(?:pm_card_|tok_)(\w+)$/.exec(id);
  return m ? MAGIC_SUFFIXES[m[1]] : undefined;
}

export function cardFingerprint(number: string): string {
  return stableToken(`fingerprint:${number}`, 16);
}

const BEHAVIOR_BY_FINGERPRINT = new Map(
  Object.entries(TEST_CARDS).map(([n, b]) => [cardFingerprint(n), b]),
);

export function behaviorOf(fingerprint: string): CardBehavior {
  return BEHAVIOR_BY_FINGERPRINT.get(fingerprint) ?? OK;
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
  return "unknown";
}

/** The `card` hash of a PaymentMethod; refuses numbers Stripe would refuse. */
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
  return {
    brand,
    checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
    country: "US",
    display_brand: brand,
    exp_month: expMonth,
    exp_year: expYear,
    fingerprint: cardFingerprint(digits),
    funding: "credit",
    last4: digits.slice(-4),
    networks: { available: [brand], preferred: null },
    three_d_secure_usage: { supported: true },
    wallet: null,
  };
}

// Stripe's bands: normal < 65 <= elevated < 75 <= highest.
function riskScore(level: string): number {
  const [lo, hi] = level === "highest" ? [80, 98] : level === "elevated" ? [65, 74] : [5, 45];
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

/** `charge.outcome` plus the failure fields Stripe sets for the given behaviour. */
export function chargeOutcome(b: CardBehavior): StripeObject {
  const base = { advice_code: null, network_advice_code: null, network_decline_code: null };
  if (b.kind === "ok") {
    return {
      ...base,
      network_status: "approved_by_network",
      reason: b.risk === "normal" ? null : `${b.risk}_risk_level`,
      risk_level: b.risk,
      risk_score: riskScore(b.risk),
      seller_message: "Payment complete.",
      type: "authorized",
    };
  }
  if (b.kind === "block") {
    return {
      ...base,
      network_status: "not_sent_to_network",
      reason: "highest_risk_level",
      risk_level: "highest",
      risk_score: riskScore("highest"),
      seller_message: "Stripe blocked this payment as too risky.",
      type: "blocked",
    };
  }
  const code = b.kind === "decline" ? b.decline_code : "authentication_required";
  return {
    ...base,
    advice_code: b.kind === "decline" ? b.advice_code : "try_again_later",
    network_status: "declined_by_network",
    reason: code,
    risk_level: "normal",
    risk_score: riskScore("normal"),
    seller_message: code === "generic_decline"
      ? "The bank did not return any further details with this decline."
      : `The bank returned the decline code \`${code}\`.`,
    type: "issuer_declined",
  };
}

/** The card_error fields for a failed charge (null when the behaviour succeeds). */
export function declineOf(
  b: CardBehavior,
): { code: string; decline_code: string; advice_code: string; message: string } | null {
  if (b.kind === "decline") {
    const { decline_code, advice_code, message } = b;
    return { code: "card_declined", decline_code, advice_code, message };
  }
  if (b.kind === "block") {
    return {
      code: "card_declined",
      decline_code: "fraudulent",
      advice_code: "do_not_try_again",
      message: DECLINED,
    };
  }
  if (b.kind === "auth_required") {
    return {
      code: "authentication_required",
      decline_code: "authentication_required",
      advice_code: "try_again_later",
      message: "Your card was declined. This transaction requires authentication.",
    };
  }
  return null;
}
