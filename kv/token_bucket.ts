/**
 * The Stripe call budget: one token bucket in KV, shared by every isolate.
 *
 * State `{tokens, updated_at}` lives at one key. A take reads it, refills by
 * `rate × elapsed` (capped at `burst`), and writes it back with a versionstamp
 * `check()`; a lost race reads again. An empty bucket makes the caller wait
 * for the next token (plus a little jitter so waiters do not wake together);
 * it never lets a call through anyway.
 *
 * `background` callers (sweeps, reconciliation) may only take while the bucket
 * keeps `reserve` tokens, so an admin's `interactive` call always finds one
 * within `1 / rate` seconds however busy the sweeps are.
 */
import { keys } from "./keys.ts";
import type { Clock } from "../core/clock.ts";

export type BucketPriority = "interactive" | "background";

export interface BucketState {
  tokens: number;
  /** ms since the epoch, from the injected clock; never moves backwards */
  updated_at: number;
}

export interface TokenBucketOptions {
  kv: Deno.Kv;
  clock: Clock;
  /** tokens added per second (the budget) */
  ratePerS: number;
  /** most tokens that can pile up while idle (default: `ratePerS`, at least 1) */
  burst?: number;
  /** share of `burst` that background takers must leave in the bucket (default 0.25) */
  reserveShare?: number;
  /** which bucket (default `"stripe"`); isolates sharing a name share the budget */
  name?: string;
  sleep?: (ms: number) => Promise<void>;
  /** jitter source, [0, 1) */
  random?: () => number;
}

export interface TokenGrant {
  priority: BucketPriority;
  /** the bucket time at which the token was taken (ms since the epoch) */
  at: number;
  /** tokens left after this take */
  remaining: number;
  /** total time spent sleeping for a token (ms) */
  waitedMs: number;
}

export type TakeAttempt =
  | { granted: true; grant: TokenGrant }
  | { granted: false; waitMs: number };

export interface TokenBucket {
  readonly ratePerS: number;
  readonly burst: number;
  /** tokens background takers must leave behind */
  readonly reserve: number;
  /** Takes one token, waiting as long as needed. */
  take(priority?: BucketPriority): Promise<TokenGrant>;
  /** Takes one token if one is available now; otherwise says how long until one is. */
  tryTake(priority?: BucketPriority): Promise<TakeAttempt>;
  /** The current state (refilled to now), for diagnostics. */
  peek(): Promise<BucketState>;
}

export interface BucketShape {
  ratePerS: number;
  burst: number;
  reserve: number;
}

/** The reserve background takers leave: a share of `burst`, but always below it so they are never shut out. */
export function bucketReserve(burst: number, share = 0.25): number {
  return Math.max(0, Math.min(burst * share, burst - 1));
}

/** The state at `now`: refilled by rate × elapsed, capped at burst. A clock behind `updated_at` adds nothing. */
export function refill(state: BucketState | null, now: number, shape: BucketShape): BucketState {
  if (state === null) return { tokens: shape.burst, updated_at: now };
  const at = Math.max(now, state.updated_at);
  const tokens = Math.min(
    shape.burst,
    state.tokens + (shape.ratePerS * (at - state.updated_at)) / 1000,
  );
  return { tokens, updated_at: at };
}

/**
 * Decides one take on a refilled state: the new state, or how long (ms) until
 * the bucket holds enough for this priority.
 */
export function decideTake(
  state: BucketState,
  priority: BucketPriority,
  shape: BucketShape,
): { granted: true; next: BucketState } | { granted: false; waitMs: number } {
  const floor = priority === "background" ? shape.reserve : 0;
  // a hair of tolerance so float refills (0.999999…) do not cost a whole extra wait
  if (state.tokens - 1 >= floor - 1e-9) {
    return { granted: true, next: { tokens: state.tokens - 1, updated_at: state.updated_at } };
  }
  const missing = floor + 1 - state.tokens;
  return { granted: false, waitMs: Math.max(1, Math.ceil((missing * 1000) / shape.ratePerS)) };
}

export function createTokenBucket(options: TokenBucketOptions): TokenBucket {
  const { kv, clock } = options;
  const ratePerS = options.ratePerS;
  if (!(ratePerS > 0) || !Number.isFinite(ratePerS)) {
    throw new RangeError(`token bucket rate must be a positive number, got ${ratePerS}`);
  }
  const burst = options.burst ?? Math.max(1, ratePerS);
  if (!(burst >= 1) || !Number.isFinite(burst)) {
    throw new RangeError(`token bucket burst must be at least 1, got ${burst}`);
  }
  const shape: BucketShape = {
    ratePerS,
    burst,
    reserve: bucketReserve(burst, options.reserveShare ?? 0.25),
  };
  const key = keys.stripeBucket(options.name ?? "stripe");
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  // Waiters would otherwise all wake on the same millisecond and fight over one token.
  const maxJitterMs = Math.min(20, 1000 / ratePerS);

  async function attempt(priority: BucketPriority): Promise<TakeAttempt> {
    let lostRaces = 0;
    while (true) {
      const entry = await kv.get<BucketState>(key);
      const state = refill(entry.value, clock.now(), shape);
      const decision = decideTake(state, priority, shape);
      if (!decision.granted) return decision;
      const res = await kv.atomic().check(entry).set(key, decision.next).commit();
      if (res.ok) {
        return {
          granted: true,
          grant: {
            priority,
            at: decision.next.updated_at,
            remaining: decision.next.tokens,
            waitedMs: 0,
          },
        };
      }
      // Someone else took a token first: read again. After a few losses in a
      // row, step aside briefly so a crowd of takers spreads out.
      lostRaces++;
      if (lostRaces >= 3) await sleep(random() * Math.min(5, maxJitterMs));
    }
  }

  return {
    ratePerS,
    burst,
    reserve: shape.reserve,
    tryTake: (priority = "interactive") => attempt(priority),
    async take(priority = "interactive") {
      let waitedMs = 0;
      while (true) {
        const result = await attempt(priority);
        if (result.granted) return { ...result.grant, waitedMs };
        const ms = result.waitMs + random() * maxJitterMs;
        waitedMs += ms;
        await sleep(ms);
      }
    },
    async peek() {
      const entry = await kv.get<BucketState>(key);
      return refill(entry.value, clock.now(), shape);
    },
  };
}
