/**
 * The SDK's HTTP client behind the gateway: each request pays a token of the
 * shared budget (and of its endpoint's own, where Stripe limits one apart)
 * before it is sent, and records what it did in the call's scope, which
 * AsyncLocalStorage carries through the SDK's promise chain.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import Stripe from "stripe";
import type { Config } from "../../config.ts";
import { takeTogether, type TokenBucket } from "../../kv/token_bucket.ts";

export type StripePriority = "interactive" | "background";

/** The key demo mode uses against the emulator (which accepts any `sk_test_` key). */
export const DEMO_SECRET_KEY = "sk_test_demo_emulator_0000000000";

export interface RequestRecord {
  method: string;
  path: string;
  idempotency_key: string | null;
  status: number | null;
  request_id: string | null;
  ms: number;
  waited_ms: number;
}

/** What one attempt of `call` did, filled in by the HTTP client below. */
export interface CallScope {
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

/** The SDK's fetch client, with each request paying a token first and reporting to its call. */
export function budgetedHttpClient(
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
      waited += (await (sub ? takeTogether([sub, bucket], priority) : bucket.take(priority)))
        .waitedMs;
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

export function sdkClient(
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
