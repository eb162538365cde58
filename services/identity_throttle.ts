/**
 * Per-token request throttle: a fixed window counted in KV, so every isolate
 * shares it. Step-up (a code guess per request) gets a much smaller budget
 * than ordinary API calls.
 */
import type { Clock } from "./clock.ts";
import { AppError } from "./errors.ts";
import { countRequest, rateWindowKey, readRateCount } from "../kv/identity_factors.ts";

export type ThrottleKind = "api" | "step_up";

export interface RateLimit {
  /** requests allowed per window and token */
  limit: number;
  windowMs: number;
}

export type RateLimits = Record<ThrottleKind, RateLimit>;

export const DEFAULT_RATE_LIMITS: RateLimits = {
  api: { limit: 120, windowMs: 60_000 },
  step_up: { limit: 10, windowMs: 60_000 },
};

/** The window `now` falls in. */
export function windowOf(limit: RateLimit, now: number): number {
  return Math.floor(now / limit.windowMs);
}

/** A count read ahead of time (authentication reads the API window with the token). */
export interface PrefetchedCount {
  window: number;
  count: number;
}

/**
 * Counts this request against `tokenHash`'s budget of `kind`, or refuses it with
 * 429 `rate_limited` and `Retry-After` (seconds to the next window).
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
  const count = prefetched?.window === window
    ? prefetched.count
    : readRateCount(await kv.get<Deno.KvU64>(rateWindowKey(kind, tokenHash, window)));
  if (count >= rate.limit) {
    const retryAfter = Math.max(1, Math.ceil(((window + 1) * rate.windowMs - now) / 1000));
    throw new AppError(
      "rate_limited",
      `more than ${rate.limit} ${kind === "api" ? "requests" : "step-up attempts"} in ${
        rate.windowMs / 1000
      } s with this token; retry in ${retryAfter} s`,
      { retryAfter },
    );
  }
  await countRequest(kv, kind, tokenHash, window, count === 0);
}
