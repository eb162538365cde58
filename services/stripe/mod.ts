/** The stripe domain's face: what the rest of the service may use of it. */
export { createStripeGateway, stripeOutcome } from "./gateway.ts";
export type { StripeGateway, StripePriority } from "./gateway.ts";
export { attemptStripe, classifyStripeFailure, settleAttempt } from "./outcome.ts";
export type { SettleHandlers, StripeAttempt } from "./outcome.ts";
