/**
 * Per-token request throttle: a fixed window counted in KV, so every isolate
 * shares it. Step-up (a code guess per request) gets a much smaller budget
 * than ordinary API calls.
 *
 * Step-ups are counted in KV one by one (`throttleToken`), each check and
 * count one compare-and-set, so the limit holds exactly across isolates. API requests are
 * counted here first and their increments flushed to KV with one `sum` per
 * token at most every `flushEveryMs` (`createApiThrottle`): a KV write on every
 * request cost more than the rest of authentication. Each flush reads the
 * shared count back, so this isolate sees the others' requests at most about
 * one interval late, and counts its own exactly: a token over budget is
 * refused here at once, with no KV round trip. Across isolates the budget can
 * overshoot by what the other isolates serve in one interval (writing on every
 * request it already overshot by the requests in flight).
 */
import type { Clock } from "../../core/clock.ts";
import { countRequestWithin } from "../../kv/identity_factors.ts";
import {
  type PrefetchedCount,
  rateLimited,
  type RateLimits,
  type ThrottleKind,
  windowOf,
} from "./rate_window.ts";

export {
  DEFAULT_RATE_LIMITS,
  type PrefetchedCount,
  type RateLimit,
  type RateLimits,
  type ThrottleKind,
  windowOf,
} from "./rate_window.ts";
export {
  type ApiThrottle,
  type ApiThrottleOptions,
  createApiThrottle,
  DEFAULT_FLUSH_EVERY_MS,
  type FlushTimer,
  realFlushTimer,
} from "./api_throttle.ts";

/**
 * Counts this request against `tokenHash`'s budget of `kind` in KV, or refuses it
 * with 429 `rate_limited` and `Retry-After` (seconds to the next window).
 * Refused requests are not counted: the window still resets on time.
 */
export async function throttleToken(
  kv: Deno.Kv,
  clock: Clock,
  limits: RateLimits,
  kind: ThrottleKind,
  tokenHash: string,
  prefetched?: PrefetchedCount,
): Promise<void> {
  const rate = limits[kind];
  const now = clock.now();
  const window = windowOf(rate, now);
  if (prefetched?.window === window && prefetched.count >= rate.limit) {
    throw rateLimited(kind, rate, window, now);
  }
  // check and count in one compare-and-set: a parallel burst cannot all slip under the limit
  if (!await countRequestWithin(kv, kind, tokenHash, window, rate.limit)) {
    throw rateLimited(kind, rate, window, now);
  }
}
