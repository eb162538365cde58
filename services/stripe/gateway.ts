/**
 * The one way to Stripe: the official SDK built from config, every HTTP request
 * it makes paid for from the shared KV token bucket, 429/`lock_timeout` retried
 * with full-jitter backoff when repeating is safe, and failures mapped to
 * problems (services/stripe/errors.ts).
 *
 * The token is taken inside the SDK's HTTP client, so a callback that makes
 * several requests (pagination, expand round-trips) pays for each, and the
 * SDK's timeout only starts once the token is in hand. The per-call priority
 * and request records reach that client through AsyncLocalStorage, which
 * follows the call through the SDK's promise chain.
 *
 * Webhook verification is not here: it needs no client and no budget, so the
 * webhook service uses `Stripe.webhooks.constructEventAsync(...)` with
 * `Stripe.createSubtleCryptoProvider()` directly.
 */
import type { Metrics } from "../../core/metrics.ts";
import { AsyncLocalStorage } from "node:async_hooks";
import { budgetedHttpClient, type CallScope, sdkClient } from "./http_client.ts";
import { endpointBuckets } from "./endpoint_budget.ts";
import { createCallLog, type StripeCallOptions } from "./call_log.ts";
import Stripe from "stripe";
import type { Config } from "../../config.ts";
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import {
  isRetryableStripeError,
  isStripeError,
  markNotSent,
  stripeErrorToAppError,
  stripeRetryAfterS,
} from "./errors.ts";
import { createTokenBucket, type TokenBucket } from "../../kv/token_bucket.ts";

export {
  isStripeError,
  type StripeErrorInfo,
  stripeErrorToAppError,
  type StripeOutcome,
  stripeOutcome,
} from "./errors.ts";

export { DEMO_SECRET_KEY, type StripePriority } from "./http_client.ts";
export { endpointBuckets, endpointBudget } from "./endpoint_budget.ts";
export type { StripeCallOptions } from "./call_log.ts";

export interface StripeGateway {
  /** Runs one Stripe API call through the shared budget, mapping Stripe's errors to problems. */
  call<T>(fn: (stripe: Stripe) => Promise<T>, options?: StripeCallOptions): Promise<T>;
}

/** The gateway built by `createStripeGateway`, with its bucket visible for diagnostics. */
export interface BudgetedStripeGateway extends StripeGateway {
  readonly bucket: TokenBucket;
}

export interface StripeGatewayOptions {
  /** calls, budget waits and 429s are counted here (GET /metrics) */
  metrics?: Metrics;
  kv: Deno.Kv;
  clock: Clock;
  config: Pick<Config, "stripe">;
  log: Logger;
  /** per-request timeout, ms (default 20 000) */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** jitter source, [0, 1) */
  random?: () => number;
  /** bucket burst (default: the rate, at least 1) */
  burst?: number;
  /** tries per call for 429 / lock_timeout (default 3) */
  maxAttempts?: number;
  /** first backoff ceiling, doubled each retry (default 250 ms, capped at 4 s) */
  backoffBaseMs?: number;
  /** the `fetch` the SDK sends with (default: the global one) */
  fetch?: typeof fetch;
}

export function createStripeGateway(options: StripeGatewayOptions): BudgetedStripeGateway {
  const { kv, clock, config, log } = options;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const backoffBaseMs = options.backoffBaseMs ?? 250;
  const bucket = createTokenBucket({
    kv,
    clock,
    ratePerS: config.stripe.rateLimitPerS,
    burst: options.burst,
    sleep,
    random,
  });
  const endpointBucket = endpointBuckets(
    (name, ratePerS, burst) =>
      createTokenBucket({ kv, clock, ratePerS, burst, name, sleep, random }),
    config.stripe.endpointRateLimitPerS,
    bucket.ratePerS + bucket.burst,
  );
  const scopes = new AsyncLocalStorage<CallScope>();
  const stripe = sdkClient(
    config,
    budgetedHttpClient(bucket, scopes, options.fetch, endpointBucket),
    timeoutMs,
  );

  function backoffMs(attempt: number, error: Stripe.errors.StripeError): number {
    // full jitter: anywhere up to the (capped) exponential ceiling
    const jittered = random() * Math.min(4_000, backoffBaseMs * 2 ** (attempt - 1));
    const asked = stripeRetryAfterS(error);
    return asked === undefined ? jittered : asked * 1000 + jittered / 4;
  }

  const logAttempt = createCallLog(log, options.metrics);

  return {
    bucket,
    async call<T>(fn: (stripe: Stripe) => Promise<T>, opts: StripeCallOptions = {}): Promise<T> {
      const priority = opts.priority ?? "interactive";
      for (let attempt = 1;; attempt++) {
        const scope: CallScope = { priority, requests: [], repeatable: true };
        try {
          const value = await scopes.run(scope, () => fn(stripe));
          logAttempt(scope, opts, attempt);
          return value;
        } catch (error) {
          logAttempt(scope, opts, attempt, error);
          if (scope.budgetFailure !== undefined) throw markNotSent(asError(scope.budgetFailure));
          if (!isStripeError(error)) throw error;
          const retry = isRetryableStripeError(error) && scope.repeatable && attempt < maxAttempts;
          if (!retry) {
            const readOnly = scope.requests.length > 0 &&
              scope.requests.every((r) => r.method === "GET");
            throw stripeErrorToAppError(error, {
              attempts: attempt,
              timeoutMs,
              readOnly,
              refresh: opts.refresh,
              again: opts.again,
            });
          }
          await sleep(backoffMs(attempt, error));
        }
      }
    },
  };
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
