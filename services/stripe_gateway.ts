/**
 * PLACEHOLDER: the Stripe gateway is being written (SDK from config, KV token
 * bucket, error mapping, backoff). This interface is the contract callers use.
 */
import type Stripe from "stripe";

export type StripePriority = "interactive" | "background";

export interface StripeCallOptions {
  priority?: StripePriority;
}

export interface StripeGateway {
  /** Runs one Stripe API call through the shared budget, mapping Stripe's errors to problems. */
  call<T>(fn: (stripe: Stripe) => Promise<T>, options?: StripeCallOptions): Promise<T>;
}
