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
import { AppError } from "../../core/errors.ts";
import {
  countRequest,
  countRequestWithin,
  getRateCount,
  readRateCount,
} from "../../kv/identity_factors.ts";

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

/** How long API request counts may stay in this isolate before they are flushed to KV. */
export const DEFAULT_FLUSH_EVERY_MS = 200;

/** The window `now` falls in. */
export function windowOf(limit: RateLimit, now: number): number {
  return Math.floor(now / limit.windowMs);
}

/** A count read ahead of time (authentication reads the API window with the token). */
export interface PrefetchedCount {
  window: number;
  count: number;
}

function rateLimited(kind: ThrottleKind, rate: RateLimit, window: number, now: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(((window + 1) * rate.windowMs - now) / 1000));
  return new AppError(
    "rate_limited",
    `more than ${rate.limit} ${kind === "api" ? "requests" : "step-up attempts"} in ${
      rate.windowMs / 1000
    } s with this token; retry in ${retryAfter} s`,
    { retryAfter },
  );
}

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

/** Runs `flush` after `ms` (it never rejects); returns a cancel function. */
export type FlushTimer = (flush: () => Promise<void>, ms: number) => () => void;

/** Real time, unref'd: a pending flush never keeps the process alive. */
export const realFlushTimer: FlushTimer = (flush, ms) => {
  const id = setTimeout(() => void flush(), ms);
  Deno.unrefTimer(id);
  return () => clearTimeout(id);
};

export interface ApiThrottleOptions {
  limit: RateLimit;
  /** default `DEFAULT_FLUSH_EVERY_MS` */
  flushEveryMs?: number;
  /**
   * Flushes counts left behind when requests stop. Without one they are flushed
   * by the next request that finds them due, or by `close()`.
   */
  timer?: FlushTimer | null;
  /** a timer-driven flush failed (its counts are kept for the next one) */
  onFlushError?: (error: unknown) => void;
}

export interface ApiThrottle {
  /** Counts one API request of `tokenHash`, or throws 429 `rate_limited`. */
  check(tokenHash: string, prefetched?: PrefetchedCount): Promise<void>;
  /** Sends every count still held here to KV now. */
  flush(): Promise<void>;
  /** Stops the timer and flushes (shutdown). */
  close(): Promise<void>;
}

/** One token's window as this isolate knows it. */
interface Tally {
  tokenHash: string;
  window: number;
  /** the KV count as last read: every isolate's flushed requests, ours included */
  shared: number;
  /** counted here and not yet sent */
  pending: number;
  /** sent and not yet read back */
  sending: number;
  /** clock time of the last read of `shared`; NaN before the first */
  readAt: number;
  /** this isolate has written the window (older windows deleted) */
  written: boolean;
  /** the flush or read in progress */
  syncing: Promise<void> | null;
}

export function createApiThrottle(
  kv: Deno.Kv,
  clock: Clock,
  options: ApiThrottleOptions,
): ApiThrottle {
  const rate = options.limit;
  const every = options.flushEveryMs ?? DEFAULT_FLUSH_EVERY_MS;
  const timer = options.timer ?? null;
  /** the current window of each token seen */
  const tallies = new Map<string, Tally>();
  /** windows that ended with counts not yet sent */
  let retired: Tally[] = [];
  let cancelTimer: (() => void) | null = null;

  /** Sends the pending count (if any), then reads the shared count back. */
  function sync(t: Tally, readBack = true): Promise<void> {
    t.syncing ??= (async () => {
      const n = t.pending;
      t.pending = 0;
      t.sending += n;
      let sent = false;
      try {
        if (n > 0) {
          await countRequest(kv, "api", t.tokenHash, t.window, !t.written && t.shared === 0, n);
          sent = true;
          t.written = true;
        }
        if (readBack) {
          const entry = await getRateCount(kv, "api", t.tokenHash, t.window);
          // read after our `sum` committed, so it includes those n
          t.shared = Math.max(readRateCount(entry), t.shared + n);
          t.readAt = clock.now();
        } else {
          t.shared += n;
        }
      } catch (error) {
        // Never lose a count: unsent ones go back to pending, sent ones stay known here.
        if (sent) t.shared += n;
        else t.pending += n;
        throw error;
      } finally {
        t.sending -= n;
        t.syncing = null;
      }
    })();
    return t.syncing;
  }

  function tallyOf(tokenHash: string, window: number, prefetched?: PrefetchedCount): Tally {
    let t = tallies.get(tokenHash);
    if (t && t.window === window) return t;
    if (t && t.pending > 0) retired.push(t);
    t = {
      tokenHash,
      window,
      shared: 0,
      pending: 0,
      sending: 0,
      readAt: NaN,
      written: false,
      syncing: null,
    };
    if (prefetched?.window === window) {
      t.shared = prefetched.count;
      t.readAt = clock.now();
    }
    tallies.set(tokenHash, t);
    return t;
  }

  /** Sends the counts of ended windows; one that fails stays for the next flush. */
  function flushRetired(): Promise<void>[] {
    const ended = retired;
    retired = [];
    return ended.map((t) =>
      sync(t, false).catch((e) => {
        if (t.pending > 0) retired.push(t);
        throw e;
      })
    );
  }

  /** Flushes every tally with counts whose last read is `every` old (all of them when `force`). */
  async function flushDue(force: boolean): Promise<void> {
    const now = clock.now();
    const current = windowOf(rate, now);
    const work = flushRetired();
    for (const [tokenHash, t] of tallies) {
      if (t.window < current && t.pending === 0 && !t.syncing) {
        tallies.delete(tokenHash); // idle since its window ended
      } else if (t.pending > 0 && (force || !(now - t.readAt < every))) {
        // a sync in flight does not carry what was counted since it started
        const readBack = t.window === current;
        const next = () => sync(t, readBack);
        work.push(t.syncing ? t.syncing.then(next, next) : next());
      }
    }
    const results = await Promise.allSettled(work);
    armTimer();
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  function stopTimer(): void {
    cancelTimer?.();
    cancelTimer = null;
  }

  function holdsCounts(): boolean {
    if (retired.length > 0) return true;
    for (const t of tallies.values()) if (t.pending > 0) return true;
    return false;
  }

  function armTimer(): void {
    if (!timer || cancelTimer || !holdsCounts()) return;
    cancelTimer = timer(() => {
      cancelTimer = null;
      return flushDue(false).catch((e) => options.onFlushError?.(e));
    }, every);
  }

  return {
    async check(tokenHash, prefetched) {
      const now = clock.now();
      const window = windowOf(rate, now);
      const t = tallyOf(tokenHash, window, prefetched);
      // First sight of the token in this window, or a stale count: (flush and) read first.
      if (!(now - t.readAt < every)) {
        const ended = flushRetired().map((p) => p.catch((e) => options.onFlushError?.(e)));
        await Promise.all([sync(t), ...ended]);
      }
      if (t.shared + t.sending + t.pending >= rate.limit) {
        throw rateLimited("api", rate, t.window, now);
      }
      t.pending++;
      armTimer();
    },
    flush: () => flushDue(true),
    async close() {
      stopTimer();
      try {
        await flushDue(true);
      } finally {
        stopTimer();
      }
    },
  };
}
