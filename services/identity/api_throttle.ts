/**
 * The API request throttle: counts held in this isolate and flushed to KV
 * with one `sum` per token at most every `flushEveryMs` (throttle.ts says why).
 */
import type { Clock } from "../../core/clock.ts";
import { countRequest, getRateCount, readRateCount } from "../../kv/identity_factors.ts";
import { type PrefetchedCount, type RateLimit, rateLimited, windowOf } from "./rate_window.ts";

/** How long API request counts may stay in this isolate before they are flushed to KV. */
export const DEFAULT_FLUSH_EVERY_MS = 200;

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

/** A throttle's settings and what it holds between requests. */
interface ThrottleState {
  kv: Deno.Kv;
  clock: Clock;
  options: ApiThrottleOptions;
  rate: RateLimit;
  every: number;
  timer: FlushTimer | null;
  /** the current window of each token seen */
  tallies: Map<string, Tally>;
  /** windows that ended with counts not yet sent */
  retired: Tally[];
  cancelTimer: (() => void) | null;
}

export function createApiThrottle(
  kv: Deno.Kv,
  clock: Clock,
  options: ApiThrottleOptions,
): ApiThrottle {
  const s: ThrottleState = {
    kv,
    clock,
    options,
    rate: options.limit,
    every: options.flushEveryMs ?? DEFAULT_FLUSH_EVERY_MS,
    timer: options.timer ?? null,
    tallies: new Map(),
    retired: [],
    cancelTimer: null,
  };
  const { rate, every } = s;

  return {
    async check(tokenHash, prefetched) {
      const now = clock.now();
      const window = windowOf(rate, now);
      const t = tallyOf(s, tokenHash, window, prefetched);
      // First sight of the token in this window, or a stale count: (flush and) read first.
      if (!(now - t.readAt < every)) {
        const ended = flushRetired(s).map((p) => p.catch((e) => options.onFlushError?.(e)));
        await Promise.all([sync(s, t), ...ended]);
      }
      if (t.shared + t.sending + t.pending >= rate.limit) {
        throw rateLimited("api", rate, t.window, now);
      }
      t.pending++;
      armTimer(s);
    },
    flush: () => flushDue(s, true),
    async close() {
      stopTimer(s);
      try {
        await flushDue(s, true);
      } finally {
        stopTimer(s);
      }
    },
  };
}

/** Sends the pending count (if any), then reads the shared count back. */
function sync(s: ThrottleState, t: Tally, readBack = true): Promise<void> {
  const { kv, clock } = s;
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

function tallyOf(
  s: ThrottleState,
  tokenHash: string,
  window: number,
  prefetched?: PrefetchedCount,
): Tally {
  let t = s.tallies.get(tokenHash);
  if (t && t.window === window) return t;
  if (t && t.pending > 0) s.retired.push(t);
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
    t.readAt = s.clock.now();
  }
  s.tallies.set(tokenHash, t);
  return t;
}

/** Sends the counts of ended windows; one that fails stays for the next flush. */
function flushRetired(s: ThrottleState): Promise<void>[] {
  const ended = s.retired;
  s.retired = [];
  return ended.map((t) =>
    sync(s, t, false).catch((e) => {
      if (t.pending > 0) s.retired.push(t);
      throw e;
    })
  );
}

/** Flushes every tally with counts whose last read is `every` old (all of them when `force`). */
async function flushDue(s: ThrottleState, force: boolean): Promise<void> {
  const now = s.clock.now();
  const current = windowOf(s.rate, now);
  const work = flushRetired(s);
  for (const [tokenHash, t] of s.tallies) {
    if (t.window < current && t.pending === 0 && !t.syncing) {
      s.tallies.delete(tokenHash); // idle since its window ended
    } else if (t.pending > 0 && (force || !(now - t.readAt < s.every))) {
      // a sync in flight does not carry what was counted since it started
      const readBack = t.window === current;
      const next = () => sync(s, t, readBack);
      work.push(t.syncing ? t.syncing.then(next, next) : next());
    }
  }
  const results = await Promise.allSettled(work);
  armTimer(s);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

function stopTimer(s: ThrottleState): void {
  s.cancelTimer?.();
  s.cancelTimer = null;
}

function holdsCounts(s: ThrottleState): boolean {
  if (s.retired.length > 0) return true;
  for (const t of s.tallies.values()) if (t.pending > 0) return true;
  return false;
}

function armTimer(s: ThrottleState): void {
  if (!s.timer || s.cancelTimer || !holdsCounts(s)) return;
  s.cancelTimer = s.timer(() => {
    s.cancelTimer = null;
    return flushDue(s, false).catch((e) => s.options.onFlushError?.(e));
  }, s.every);
}
