/**
 * The fixed-window budgets both throttles count against (throttle.ts). Fixed
 * minutes on purpose, not a sliding window: README, "Throttles", says why.
 */
import { AppError } from "../../core/errors.ts";

export type ThrottleKind = "api" | "step_up";

export interface RateLimit {
  /** requests allowed per window: per token (API), per admin (step-ups) */
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

export function rateLimited(
  kind: ThrottleKind,
  rate: RateLimit,
  window: number,
  now: number,
): AppError {
  const retryAfter = Math.max(1, Math.ceil(((window + 1) * rate.windowMs - now) / 1000));
  return new AppError(
    "rate_limited",
    `more than ${rate.limit} ${kind === "api" ? "requests" : "step-up attempts"} in ${
      rate.windowMs / 1000
    } s ${
      kind === "api" ? "with this token" : "for your account (whichever token you use)"
    }; retry in ${retryAfter} s`,
    { retryAfter },
  );
}
