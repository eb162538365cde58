/**
 * The Stripe call budget: one token bucket in KV, shared by every isolate.
 *
 * State `{tokens, updated_at}` lives at one key. A take reads it, refills by
 * `rate × elapsed` (capped at `burst`), and writes it back with a versionstamp
 * `check()`; a lost race reads again. An empty bucket makes the caller wait
 * for the next token (plus a little jitter so waiters do not wake together);
 * it never lets a call through anyway. Concurrent takers of one isolate share
 * one read and one commit per round (`sharedAttempts`); `takeTogether` takes
 * an endpoint's token and the shared budget's in one commit.
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

/** What a bucket made here is, for `takeTogether` (module-private). */
interface BucketCore {
  kv: Deno.Kv;
  clock: Clock;
  key: Deno.KvKey;
  shape: BucketShape;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  maxJitterMs: number;
}

const cores = new WeakMap<TokenBucket, BucketCore>();

interface Taker {
  priority: BucketPriority;
  resolve: (a: TakeAttempt) => void;
  reject: (e: unknown) => void;
}

/**
 * Concurrent takes of one isolate share reads and commits: the takers waiting
 * when a round starts are decided one after another on one read of the state
 * (each against what the ones before it left), and every grant of the round is
 * written in one checked commit; a lost race decides the whole round again.
 */
function sharedAttempts(core: BucketCore): (priority: BucketPriority) => Promise<TakeAttempt> {
  let waiting: Taker[] = [];
  let running = false;
  // The state as our last commit left it: checked by the next commit like a read, so one
  // another isolate moved since is caught there and read again.
  let last: Deno.KvEntryMaybe<BucketState> | null = null;
  async function round(batch: Taker[]): Promise<void> {
    for (let lostRaces = 0;; lostRaces++) {
      const entry = last ?? await core.kv.get<BucketState>(core.key);
      let state = refill(entry.value, core.clock.now(), core.shape);
      const answers: TakeAttempt[] = batch.map((t) => {
        const d = decideTake(state, t.priority, core.shape);
        if (!d.granted) return d;
        state = d.next;
        const grant = { priority: t.priority, at: state.updated_at, remaining: state.tokens };
        return { granted: true, grant: { ...grant, waitedMs: 0 } };
      });
      const any = answers.some((a) => a.granted);
      // a refusal on a kept state is decided again on a fresh read (others only take tokens,
      // so a kept state never refuses what the stored one would grant, but may wait too little)
      if (!any && last) {
        last = null;
        continue;
      }
      const res = any ? await core.kv.atomic().check(entry).set(core.key, state).commit() : null;
      if (!res || res.ok) {
        last = res?.ok ? { key: entry.key, value: state, versionstamp: res.versionstamp } : null;
        batch.forEach((t, i) => t.resolve(answers[i]));
        return;
      }
      last = null;
      // Another isolate took first: read again; after a few losses, step aside briefly.
      if (lostRaces >= 2) await core.sleep(core.random() * Math.min(5, core.maxJitterMs));
    }
  }
  async function drain(): Promise<void> {
    running = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      await round(batch).catch((e) => batch.forEach((t) => t.reject(e)));
    }
    running = false;
  }
  return (priority) =>
    new Promise((resolve, reject) => {
      waiting.push({ priority, resolve, reject });
      if (!running) void drain();
    });
}

/** Takes a token (waiting as needed) with `attempt`, the way every bucket's `take` does. */
async function takeWith(
  attempt: () => Promise<TakeAttempt>,
  core: Pick<BucketCore, "sleep" | "random" | "maxJitterMs">,
): Promise<TokenGrant> {
  let waitedMs = 0;
  while (true) {
    const result = await attempt();
    if (result.granted) return { ...result.grant, waitedMs };
    const ms = result.waitMs + core.random() * core.maxJitterMs;
    waitedMs += ms;
    await core.sleep(ms);
  }
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
  const core: BucketCore = {
    kv,
    clock,
    key: keys.stripeBucket(options.name ?? "stripe"),
    shape: { ratePerS, burst, reserve: bucketReserve(burst, options.reserveShare ?? 0.25) },
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    random: options.random ?? Math.random,
    // Waiters would otherwise all wake on the same millisecond and fight over one token.
    maxJitterMs: Math.min(20, 1000 / ratePerS),
  };
  const attempt = sharedAttempts(core);
  const bucket: TokenBucket = {
    ratePerS,
    burst,
    reserve: core.shape.reserve,
    tryTake: (priority = "interactive") => attempt(priority),
    take: (priority = "interactive") => takeWith(() => attempt(priority), core),
    async peek() {
      const entry = await kv.get<BucketState>(core.key);
      return refill(entry.value, clock.now(), core.shape);
    },
  };
  cores.set(bucket, core);
  return bucket;
}

/**
 * One token of each bucket, taken in ONE checked commit (an endpoint's
 * sub-bucket and the shared budget): both or neither, so a wait for one never
 * holds a token of the other. Buckets not made here (or on another KV) are
 * taken one after another.
 */
export function takeTogether(
  buckets: TokenBucket[],
  priority: BucketPriority = "interactive",
): Promise<TokenGrant> {
  const found = buckets.map((b) => cores.get(b));
  const all = found.every((c): c is BucketCore => c !== undefined && c.kv === found[0]?.kv);
  if (!all || buckets.length < 2) return takeInTurn(buckets, priority);
  return takeWith(() => attemptTogether(found, priority), found[0]);
}

async function takeInTurn(buckets: TokenBucket[], priority: BucketPriority): Promise<TokenGrant> {
  let last: TokenGrant | null = null;
  let waitedMs = 0;
  for (const b of buckets) {
    last = await b.take(priority);
    waitedMs += last.waitedMs;
  }
  return { ...last!, waitedMs };
}

async function attemptTogether(cs: BucketCore[], priority: BucketPriority): Promise<TakeAttempt> {
  for (let lostRaces = 0;; lostRaces++) {
    const entries = await cs[0].kv.getMany<BucketState[]>(cs.map((c) => c.key));
    const decisions = cs.map((c, i) =>
      decideTake(refill(entries[i].value, c.clock.now(), c.shape), priority, c.shape)
    );
    const waits = decisions.flatMap((d) => d.granted ? [] : [d.waitMs]);
    if (waits.length > 0) return { granted: false, waitMs: Math.max(...waits) };
    const op = cs[0].kv.atomic();
    const nexts = decisions.map((d) => (d as { next: BucketState }).next);
    cs.forEach((c, i) => op.check(entries[i]).set(c.key, nexts[i]));
    if ((await op.commit()).ok) {
      const last = nexts[nexts.length - 1];
      const remaining = Math.min(...nexts.map((n) => n.tokens));
      return { granted: true, grant: { priority, at: last.updated_at, remaining, waitedMs: 0 } };
    }
    if (lostRaces >= 2) await cs[0].sleep(cs[0].random() * Math.min(5, cs[0].maxJitterMs));
  }
}
