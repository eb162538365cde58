/**
 * What support does next about a retry attempt, in words, shown with it: from
 * its status and Stripe's decline, failure and advice codes (README, "Retry
 * policy").
 */
import {
  CARD_RATE_LIMIT_CODE,
  CONFIRM_CARD_DATA,
  declineClass,
  NOT_SENT_CODE,
  type RetryStatus,
  SUPERSEDED_CODE,
} from "./retry.ts";

/** What support does next about an attempt (shown with it); null when nothing is left to do. */
export function nextStepOf(a: {
  id: string;
  transaction_id: string;
  status: RetryStatus;
  failure_code: string | null;
  decline_code: string | null;
  advice_code: string | null;
}): string | null {
  if (a.status === "requires_action") {
    return "the customer must authenticate: send them to your checkout with the client_secret " +
      "(next_action says how)";
  }
  if (a.status === "requires_capture") {
    const txn = `/api/admin/payments/transactions/${a.transaction_id}`;
    return `the payment is authorized, not charged: capture it (POST ${txn}/capture) or ` +
      `release it (POST ${txn}/cancel) before the authorization lapses`;
  }
  if (a.status === "processing") {
    return "Stripe's outcome is not known yet: the attempt settles by itself (its webhook, or " +
      `reconciliation within minutes); follow it with GET /api/admin/payments/retries/${a.id} ` +
      "and do not retry meanwhile";
  }
  if (a.status !== "failed") return null;
  if (a.failure_code === NOT_SENT_CODE) {
    return "Stripe did nothing (it asked to try again later): retry the payment again; this " +
      "attempt does not count toward the retry limits";
  }
  // Closed by reconciliation, never a decline of the card (README "Retrying failed payments").
  if (a.failure_code === "not_confirmed") {
    return "the card was saved on the customer but never charged: nothing was charged; retry " +
      "the payment (with that saved card, or another); this attempt does not count toward the " +
      "retry limits";
  }
  if (a.failure_code === "not_received_by_stripe") {
    return "Stripe never received this attempt: nothing was charged; retry the payment if the " +
      "customer still wants to pay (this attempt still counts toward the retry limits)";
  }
  // Stripe refused the confirm: the payment had moved meanwhile (README "Which payments").
  if (a.failure_code === "payment_intent_unexpected_state") {
    return "Stripe refused this confirm because the payment was no longer waiting for a " +
      "payment method (stripe_status says what it is): nothing was charged by this attempt, " +
      "which does not count toward the retry limits; read the transaction (GET " +
      `/api/admin/payments/transactions/${a.transaction_id}) before retrying it`;
  }
  // Stripe went ahead with another payment method (README "Retrying failed payments", Outcomes).
  if (a.failure_code === SUPERSEDED_CODE) {
    return "the payment went ahead at Stripe with another payment method while this attempt was " +
      "in flight (failure_message says which; the transaction shows the payment): nothing was " +
      "charged by this attempt, which does not count toward the retry limits; read the " +
      `transaction (GET /api/admin/payments/transactions/${a.transaction_id}) before anything else`;
  }
  if (a.failure_code === "payment_intent_canceled") {
    return "the payment was canceled at Stripe: nothing was charged and nothing is left to " +
      "retry (a canceled payment cannot be confirmed again); if the customer still wants to " +
      "pay, they pay again through your checkout";
  }
  if (
    a.failure_code === "authentication_required" || a.decline_code === "authentication_required"
  ) {
    return "the bank wants the customer to authenticate: bring the customer back and retry " +
      "with off_session: false";
  }
  if (a.failure_code === "payment_intent_authentication_failure") {
    return "the customer did not authenticate (3-D Secure failed or was abandoned): nothing was " +
      "charged; bring them back to try again with off_session: false, or ask for another card";
  }
  const kind = declineClass({ code: a.failure_code, decline_code: a.decline_code });
  if (kind === "fraud") return "a fraud decline: do not retry this payment";
  if (a.advice_code === "do_not_try_again" || kind === "hard") {
    return "do not try this card again: ask the customer for another card";
  }
  if (a.failure_code === CARD_RATE_LIMIT_CODE) {
    return "Stripe locked this card for 24 h: use another card";
  }
  if (a.advice_code === "try_again_later") {
    return "try this card again later, or another card now";
  }
  if (a.advice_code === CONFIRM_CARD_DATA) {
    return "the card's details were declined: ask the customer to enter them again (a new " +
      "payment method), or for another card";
  }
  return "ask the customer for another card, or try again later";
}
