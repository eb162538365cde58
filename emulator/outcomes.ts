import type { CardBehavior, Decline } from "./cards.ts";
import type { StripeObject } from "./object.ts";

// Stripe's bands: normal < 65 <= elevated < 75 <= highest.
function riskScore(level: string): number {
  const [lo, hi] = level === "highest" ? [80, 98] : level === "elevated" ? [65, 74] : [5, 45];
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

/** `charge.outcome` (Stripe.Charge.Outcome) for the given behaviour. */
export function chargeOutcome(b: CardBehavior, decline: Decline | null): StripeObject {
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
      advice_code: "do_not_try_again",
      network_status: "not_sent_to_network",
      reason: "highest_risk_level",
      risk_level: "highest",
      risk_score: riskScore("highest"),
      seller_message: "Stripe blocked this payment as too risky.",
      type: "blocked",
    };
  }
  const code = decline?.decline_code ?? "generic_decline";
  return {
    ...base,
    advice_code: decline?.advice_code ?? null,
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

/**
 * `charge.outcome` of a charge refused because Stripe locked the card after
 * too many declines: blocked by Stripe before the network, with no Radar
 * reason and no Radar verdict on its risk (Radar's blocks are `chargeOutcome`).
 */
export function rateLimitedOutcome(): StripeObject {
  return {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    network_status: "not_sent_to_network",
    reason: null,
    risk_level: "normal",
    risk_score: riskScore("normal"),
    seller_message: "Stripe blocked this payment: the card was declined too many times.",
    type: "blocked",
  };
}

/** The card_error for a failed charge, or null when the behaviour succeeds. */
export function declineOf(b: CardBehavior, offSession: boolean): Decline | null {
  if (b.kind === "decline") return b.decline;
  if (b.kind === "block") {
    return {
      code: "card_declined",
      decline_code: "fraudulent",
      advice_code: "do_not_try_again",
      message: "Your card was declined.",
    };
  }
  // Off-session there is nobody to authenticate, so an SCA card soft-declines.
  if (b.kind === "auth_required" && offSession) return authenticationRequired();
  return null;
}

export function authenticationRequired(): Decline {
  return {
    code: "authentication_required",
    decline_code: "authentication_required",
    message: "Your card was declined. This transaction requires authentication.",
  };
}

/** Stripe refuses a card declined too often in 24 h without asking the issuer again. */
export function rateLimited(): Decline {
  return {
    code: "card_decline_rate_limit_exceeded",
    message: "This card has been declined too many times. You can try to charge this card " +
      "again after 24 hours. We suggest reaching out to your customer to make sure they have " +
      "entered all of their information correctly and that there are no issues with their card.",
  };
}

export function cardErrorBody(decline: Decline): StripeObject {
  const body: StripeObject = { type: "card_error", code: decline.code };
  if (decline.decline_code) body.decline_code = decline.decline_code;
  if (decline.advice_code) body.advice_code = decline.advice_code;
  body.doc_url = `https://stripe.com/docs/error-codes/${decline.code.replaceAll("_", "-")}`;
  body.message = decline.message;
  if (decline.param) body.param = decline.param;
  return body;
}
