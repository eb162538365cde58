/** A dispute's events, in the order of its life. */
export const DISPUTE_EVENT_TYPES = [
  "charge.dispute.created",
  "charge.dispute.updated",
  "charge.dispute.closed",
  "charge.dispute.funds_withdrawn",
  "charge.dispute.funds_reinstated",
] as const;

/**
 * The Stripe events the service handles: what the webhook endpoint at Stripe
 * should send (README, Deploy; `deno task doctor` compares the endpoint with it).
 */
export const HANDLED_EVENT_TYPES = [
  "payment_intent.succeeded",
  "payment_intent.payment_failed",
  "payment_intent.canceled",
  "payment_intent.processing",
  "payment_intent.requires_action",
  "payment_intent.amount_capturable_updated",
  "charge.succeeded",
  "charge.failed",
  "charge.captured",
  "charge.expired",
  "charge.updated",
  "charge.refunded",
  "charge.refund.updated",
  ...DISPUTE_EVENT_TYPES,
  "refund.created",
  "refund.updated",
  "refund.failed",
  "radar.early_fraud_warning.created",
  "radar.early_fraud_warning.updated",
  "review.opened",
  "review.closed",
  "customer.created",
  "customer.updated",
  "customer.deleted",
  "payment_method.attached",
  "payment_method.detached",
] as const;
