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

export type StripePriority = "interactive" | "background";

export interface StripeCallOptions {
  /** `interactive` (an admin is waiting; default) may use the whole budget; `background` leaves a reserve */
  priority?: StripePriority;
  /** what the call does, for the logs (`refunds.create`) */
  label?: string;
  /** a routine call among many (demo seeding): logged at debug when it succeeds */
  quiet?: boolean;
}

export interface StripeGateway {
  /** Runs one Stripe API call through the shared budget, mapping Stripe's errors to problems. */
  call<T>(fn: (stripe: Stripe) => Promise<T>, options?: StripeCallOptions): Promise<T>;
}

/** The gateway built by `createStripeGateway`, with its bucket visible for diagnostics. */
export interface BudgetedStripeGateway extends StripeGateway {
  readonly bucket: TokenBucket;
}

/** The key demo mode uses against the emulator (which accepts any `sk_test_` key). */
export const DEMO_SECRET_KEY = "sk_test_demo_emulator_0000000000";

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

interface RequestRecord {
  method: string;
  path: string;
  idempotency_key: string | null;
  status: number | null;
  request_id: string | null;
  ms: number;
  waited_ms: number;
}

/** What one attempt of `call` did, filled in by the HTTP client below. */
interface CallScope {
  priority: StripePriority;
  requests: RequestRecord[];
  /** every request so far may be sent again without acting twice */
  repeatable: boolean;
  budgetFailure?: unknown;
}

// The SDK keys every POST itself with this prefix; such a key is new on each
// call, so it does not make repeating the whole call safe.
const SDK_AUTO_KEY = "stripe-node-retry-";

function headerString(headers: Record<string, unknown>, name: string): string | null {
  const v = headers[name] ?? headers[name.toLowerCase()];
  return typeof v === "string" ? v : null;
}

/**
 * Stripe limits each endpoint on its own, below the account's overall rate
 * (README, "Stripe budget"): 25 requests/s by default, 20/s for Files and for
 * Search. A request pays a token of its endpoint's sub-bucket as well as one
 * of the shared budget, so one kind of call can take no more than its
 * endpoint allows, and leaves the rest of the budget to the others.
 * Each sub-bucket refills at 4/5 of the limit with a burst of 1/5, so no
 * one-second window holds more than the limit, opening burst included.
 */
export const ENDPOINT_LIMIT_PER_S = 25;
export const FILES_LIMIT_PER_S = 20;
export const SEARCH_LIMIT_PER_S = 20;

/** The sub-bucket a request path pays into: its name (shared by isolates) and Stripe's limit. */
export function endpointBudget(
  path: string,
  endpointLimitPerS = ENDPOINT_LIMIT_PER_S,
): { name: string; limitPerS: number } {
  const parts = path.split("?")[0].split("/").filter(Boolean); // ["v1", "customers", "cus_1"]
  const resource = (parts[0] === "v1" ? parts[1] : parts[0]) ?? "root";
  if (resource === "files") return { name: "stripe_files", limitPerS: FILES_LIMIT_PER_S };
  if (parts.at(-1) === "search") return { name: "stripe_search", limitPerS: SEARCH_LIMIT_PER_S };
  return { name: `stripe_endpoint_${resource}`, limitPerS: endpointLimitPerS };
}

/**
 * One sub-bucket per endpoint, made on its first request. An endpoint whose
 * limit the shared budget cannot reach even with its burst spent in one second
 * (`sharedMaxPerS`) gets none: it would cost a KV commit per request for nothing.
 */
export function endpointBuckets(
  make: (name: string, ratePerS: number, burst: number) => TokenBucket,
  endpointLimitPerS = ENDPOINT_LIMIT_PER_S,
  sharedMaxPerS = Infinity,
): (path: string) => TokenBucket | null {
  const buckets = new Map<string, TokenBucket | null>();
  return (path) => {
    const { name, limitPerS } = endpointBudget(path, endpointLimitPerS);
    let bucket = buckets.get(name);
    if (bucket === undefined) {
      const burst = Math.max(1, Math.floor(limitPerS / 5));
      bucket = limitPerS >= sharedMaxPerS ? null : make(name, limitPerS - burst, burst);
      buckets.set(name, bucket);
    }
    return bucket;
  };
}

/** The SDK's fetch client, with each request paying a token first and reporting to its call. */
function budgetedHttpClient(
  bucket: TokenBucket,
  scopes: AsyncLocalStorage<CallScope>,
  fetchFn?: typeof fetch,
  endpointBucket?: (path: string) => TokenBucket | null,
): Stripe.HttpClientInterface {
  const inner = Stripe.createFetchHttpClient(fetchFn);
  const client = Object.create(inner) as Stripe.HttpClientInterface;
  client.makeRequest = async (host, port, path, method, headers, body, protocol, timeout) => {
    const scope = scopes.getStore();
    const key = headerString(headers, "Idempotency-Key");
    if (scope && method !== "GET" && (key === null || key.startsWith(SDK_AUTO_KEY))) {
      scope.repeatable = false;
    }
    let waited = 0;
    try {
      const priority = scope?.priority ?? "interactive";
      const sub = endpointBucket?.(path);
      if (sub) waited += (await sub.take(priority)).waitedMs;
      waited += (await bucket.take(priority)).waitedMs;
    } catch (e) {
      if (scope) scope.budgetFailure = e;
      throw e;
    }
    const record: RequestRecord = {
      method,
      path: path.split("?")[0],
      idempotency_key: key && !key.startsWith(SDK_AUTO_KEY) ? key : null,
      status: null,
      request_id: null,
      ms: 0,
      waited_ms: Math.round(waited),
    };
    scope?.requests.push(record);
    const started = performance.now();
    try {
      const res = await inner.makeRequest(
        host,
        port,
        path,
        method,
        headers,
        body,
        protocol,
        timeout,
      );
      record.status = res.getStatusCode();
      record.request_id = headerString(res.getHeaders() as Record<string, unknown>, "request-id");
      return res;
    } finally {
      record.ms = Math.round(performance.now() - started);
    }
  };
  return client;
}

function sdkClient(
  config: Pick<Config, "stripe">,
  httpClient: Stripe.HttpClientInterface,
  timeout: number,
) {
  const url = new URL(config.stripe.apiUrl);
  const protocol = url.protocol === "http:" ? "http" : "https";
  return new Stripe(config.stripe.secretKey ?? DEMO_SECRET_KEY, {
    host: url.hostname,
    port: url.port || (protocol === "http" ? 80 : 443),
    protocol,
    httpClient,
    // The gateway owns retries: it knows when repeating is safe and keeps to the budget.
    maxNetworkRetries: 0,
    timeout,
    telemetry: false,
  });
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

  const calls = options.metrics?.counter(
    "payops_stripe_requests_total",
    "Stripe API requests by call label and HTTP status",
  );
  const waits = options.metrics?.histogram(
    "payops_stripe_budget_wait_seconds",
    "Time a Stripe call waited for a token of the shared budget, by priority",
  );
  const throttled = options.metrics?.counter(
    "payops_stripe_rate_limited_total",
    "Stripe answers that asked to slow down, by reason (rate_limit, lock_timeout, ...)",
  );

  function countAttempt(scope: CallScope, opts: StripeCallOptions, error?: unknown) {
    const label = opts.label ?? "unlabelled";
    for (const r of scope.requests) {
      calls!.inc({ label, status: String(r.status ?? "none") });
      waits!.observe({ priority: scope.priority }, r.waited_ms / 1000);
    }
    if (isStripeError(error) && (error.statusCode === 429 || error.code === "lock_timeout")) {
      throttled!.inc({ reason: error.code ?? "rate_limit" });
    }
  }

  function logAttempt(scope: CallScope, opts: StripeCallOptions, attempt: number, error?: unknown) {
    if (calls) countAttempt(scope, opts, error);
    const last = scope.requests.at(-1);
    const fields = {
      label: opts.label ?? null,
      priority: scope.priority,
      attempt,
      requests: scope.requests.length,
      method: last?.method ?? null,
      path: last?.path ?? null,
      status: isStripeError(error) ? error.statusCode ?? null : last?.status ?? null,
      ms: last?.ms ?? null,
      waited_ms: scope.requests.reduce((n, r) => n + r.waited_ms, 0),
      request_id: (isStripeError(error) ? error.requestId : undefined) ?? last?.request_id ?? null,
      idempotency_key: last?.idempotency_key ?? null,
    };
    if (error === undefined) (opts.quiet ? log.debug : log.info)("stripe call", fields);
    else {
      const e = isStripeError(error)
        ? { type: error.rawType ?? error.type, code: error.code ?? null, message: error.message }
        : { message: error instanceof Error ? error.message : String(error) };
      // a routine call's decline (demo seeding declines on purpose) is no news
      const routine = opts.quiet && isStripeError(error) && error.statusCode === 402;
      (routine ? log.debug : log.warn)("stripe call failed", { ...fields, error: e });
    }
  }

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
          if (!retry) throw stripeErrorToAppError(error, { attempts: attempt, timeoutMs });
          await sleep(backoffMs(attempt, error));
        }
      }
    },
  };
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
