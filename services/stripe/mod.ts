/**
 * Stripe: the only way out to Stripe. The gateway holds the SDK client, spends
 * the shared call budget (admin actions before sweeps), backs off on 429 and
 * lock timeouts, and turns Stripe's errors into this service's.
 */
export { createStripeGateway, stripeOutcome } from "./gateway.ts";
export type { StripeGateway, StripePriority } from "./gateway.ts";
export { attemptStripe, classifyStripeFailure, settleAttempt } from "./outcome.ts";
export type { SettleHandlers, StripeAttempt } from "./outcome.ts";
export { stripeAnsweredAt, stripeRequestId } from "./answer_time.ts";
export { type StripeErrorInfo, stripeRefusal } from "./errors.ts";
