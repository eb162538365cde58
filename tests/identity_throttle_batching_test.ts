import assert from "node:assert/strict";
import { ManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import { createApiThrottle, type FlushTimer, windowOf } from "../services/identity/throttle.ts";
import { rateWindowKey } from "../kv/identity_factors.ts";

const TOKEN = "a".repeat(64);
const LIMIT = { limit: 5, windowMs: 60_000 };
/** the start of a window, so a test's few seconds stay inside it */
const WINDOW_START = Date.UTC(2026, 10, 26, 9, 0, 0);

/** A timer the test fires by hand; `fire()` runs what is armed and waits for it. */
function handTimer() {
  const armed: { flush: () => Promise<void>; ms: number; cancelled: boolean }[] = [];
  const timer: FlushTimer = (flush, ms) => {
    const entry = { flush, ms, cancelled: false };
    armed.push(entry);
    return () => entry.cancelled = true;
  };
  return {
    timer,
    /** timers armed and neither fired nor cancelled */
    live: () => armed.filter((t) => !t.cancelled).length,
    async fire() {
      const due = armed.splice(0).filter((t) => !t.cancelled);
      assert.ok(due.length > 0, "a flush timer is armed");
      await Promise.all(due.map((t) => t.flush()));
    },
  };
}

async function sharedCount(kv: Deno.Kv, at: number, token = TOKEN): Promise<number> {
  const entry = await kv.get<Deno.KvU64>(rateWindowKey("api", token, windowOf(LIMIT, at)));
  return entry.value ? Number(entry.value.value) : 0;
}

async function refused(p: Promise<void>): Promise<AppError> {
  const error = await p.then(() => null, (e) => e);
  assert.ok(error instanceof AppError, "the request is refused");
  assert.equal(error.code, "rate_limited");
  return error;
}

Deno.test("API throttle: requests are counted here and reach KV in one sum per interval", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(WINDOW_START);
  const t = handTimer();
  const throttle = createApiThrottle(kv, clock, {
    limit: { limit: 100, windowMs: 60_000 },
    flushEveryMs: 200,
    timer: t.timer,
  });
  try {
    for (let i = 0; i < 30; i++) await throttle.check(TOKEN);
    assert.equal(await sharedCount(kv, clock.now()), 0, "nothing written per request");
    assert.equal(t.live(), 1, "one flush armed for all of them");

    clock.advance(200);
    await t.fire();
    assert.equal(await sharedCount(kv, clock.now()), 30, "the interval's requests in one flush");

    for (let i = 0; i < 4; i++) await throttle.check(TOKEN);
    await t.fire(); // fires early (the clock has not moved): not this token's turn yet
    assert.equal(await sharedCount(kv, clock.now()), 30, "at most one flush per interval");
    assert.equal(t.live(), 1, "re-armed for the counts still held");
    clock.advance(200);
    await t.fire();
    assert.equal(await sharedCount(kv, clock.now()), 34);
    assert.equal(t.live(), 0, "nothing held, nothing armed");
  } finally {
    await throttle.close();
    kv.close();
  }
});

Deno.test("API throttle: a token over budget is refused at once, before any flush", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(WINDOW_START + 20_000);
  const throttle = createApiThrottle(kv, clock, { limit: LIMIT, timer: handTimer().timer });
  try {
    for (let i = 0; i < LIMIT.limit; i++) await throttle.check(TOKEN);
    const error = await refused(throttle.check(TOKEN));
    assert.equal(error.retryAfter, 40, "Retry-After runs to the next window");
    assert.equal(await sharedCount(kv, clock.now()), 0, "refused from the local count alone");
    await throttle.check("b".repeat(64)); // another token has its own budget
    await throttle.close();
    assert.equal(await sharedCount(kv, clock.now()), LIMIT.limit, "the refused one is not counted");
  } finally {
    await throttle.close();
    kv.close();
  }
});

Deno.test("API throttle: another isolate sees the counts within one interval and refuses", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(WINDOW_START);
  const timerA = handTimer();
  const a = createApiThrottle(kv, clock, { limit: LIMIT, flushEveryMs: 200, timer: timerA.timer });
  const b = createApiThrottle(kv, clock, { limit: LIMIT, flushEveryMs: 200, timer: null });
  try {
    for (let i = 0; i < LIMIT.limit; i++) await a.check(TOKEN);
    clock.advance(200);
    await timerA.fire();
    assert.equal(await sharedCount(kv, clock.now()), LIMIT.limit);
    await refused(b.check(TOKEN));
  } finally {
    await a.close();
    await b.close();
    kv.close();
  }
});

Deno.test("API throttle: a stale count is re-read before deciding, flushing what is held", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(WINDOW_START);
  // no timer: the next request after the interval does the flush
  const a = createApiThrottle(kv, clock, { limit: LIMIT, flushEveryMs: 200, timer: null });
  const b = createApiThrottle(kv, clock, { limit: LIMIT, flushEveryMs: 200, timer: null });
  try {
    await b.check(TOKEN); // b has seen the window (count 0) and holds one request
    for (let i = 0; i < LIMIT.limit - 1; i++) await a.check(TOKEN);
    clock.advance(200);
    await a.check(TOKEN); // stale: a flushes its 4 and reads, then counts a 5th locally
    assert.equal(await sharedCount(kv, clock.now()), 4);
    await refused(b.check(TOKEN)); // b flushes its 1, reads 5: the budget is spent
    assert.equal(await sharedCount(kv, clock.now()), 5);
    await a.close();
    assert.equal(await sharedCount(kv, clock.now()), 6, "every allowed request ends up in KV");
  } finally {
    await a.close();
    await b.close();
    kv.close();
  }
});

Deno.test("API throttle: close() flushes what is held and stops the timer", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(WINDOW_START);
  const t = handTimer();
  const throttle = createApiThrottle(kv, clock, { limit: LIMIT, timer: t.timer });
  try {
    for (let i = 0; i < 3; i++) await throttle.check(TOKEN);
    assert.equal(t.live(), 1);
    await throttle.close();
    assert.equal(await sharedCount(kv, clock.now()), 3);
    assert.equal(t.live(), 0, "the timer is cancelled");
  } finally {
    kv.close();
  }
});

Deno.test("API throttle: the counts of a window that ended are still flushed", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(WINDOW_START + 59_900);
  const throttle = createApiThrottle(kv, clock, { limit: LIMIT, timer: null });
  try {
    const first = clock.now();
    for (let i = 0; i < 3; i++) await throttle.check(TOKEN);
    clock.advance(200); // the next window
    await throttle.check(TOKEN);
    assert.equal(await sharedCount(kv, first), 3, "the ended window got its 3");
    await throttle.close();
    assert.equal(await sharedCount(kv, clock.now()), 1);
  } finally {
    kv.close();
  }
});

Deno.test("API throttle: a failed flush loses no count and is retried", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(WINDOW_START);
  const t = handTimer();
  const errors: unknown[] = [];
  let failCommits = 1;
  const flaky = failingCommits(kv, () => failCommits-- > 0);
  const throttle = createApiThrottle(flaky, clock, {
    limit: LIMIT,
    flushEveryMs: 200,
    timer: t.timer,
    onFlushError: (e) => errors.push(e),
  });
  try {
    for (let i = 0; i < 3; i++) await throttle.check(TOKEN);
    clock.advance(200);
    await t.fire();
    assert.equal(errors.length, 1, "the failure is reported");
    assert.equal(await sharedCount(kv, clock.now()), 0);
    assert.equal(t.live(), 1, "re-armed");
    await t.fire();
    assert.equal(await sharedCount(kv, clock.now()), 3, "the same 3, once");
    for (let i = 0; i < 2; i++) await throttle.check(TOKEN);
    await refused(throttle.check(TOKEN));
  } finally {
    await throttle.close();
    kv.close();
  }
});

/** `kv` whose atomic commits reject while `fail()` says so (KV unavailable). */
function failingCommits(kv: Deno.Kv, fail: () => boolean): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const proxy: Deno.AtomicOperation = new Proxy(op, {
            get(o, p) {
              if (p === "commit" && fail()) {
                return () => Promise.reject(new Error("KV unavailable"));
              }
              const v = Reflect.get(o, p);
              if (typeof v !== "function") return v;
              return (...args: unknown[]) => {
                const r = v.apply(o, args);
                return r === o ? proxy : r;
              };
            },
          });
          return proxy;
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

Deno.test("API throttle: two isolates on one KV under a random load keep to the documented overshoot", async () => {
  // README, Security: at most (isolates − 1) × (requests per isolate per 200 ms) beyond the limit
  const dir = await Deno.makeTempDir({ prefix: "throttle_isolates_" });
  const kvs = [await Deno.openKv(`${dir}/kv.sqlite3`), await Deno.openKv(`${dir}/kv.sqlite3`)];
  const clock = new ManualClock(WINDOW_START);
  const limit = { limit: 30, windowMs: 60_000 };
  const throttles = kvs.map((kv) =>
    createApiThrottle(kv, clock, { limit, flushEveryMs: 200, timer: null })
  );
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  try {
    const allowed: { at: number; isolate: number }[] = [];
    while (clock.now() < WINDOW_START + limit.windowMs - 1000) {
      clock.advance(Math.floor(random() * 150));
      // a few requests at once, on either isolate
      const burst = Array.from(
        { length: 1 + Math.floor(random() * 3) },
        () => random() < 0.5 ? 0 : 1,
      );
      const results = await Promise.all(
        burst.map((i) => throttles[i].check(TOKEN).then(() => i, () => null)),
      );
      for (const i of results) if (i !== null) allowed.push({ at: clock.now(), isolate: i });
    }
    // the most one isolate was allowed within any 200 ms
    let perInterval = 0;
    for (const a of allowed) {
      const near = allowed.filter((b) =>
        b.isolate === a.isolate && b.at >= a.at && b.at < a.at + 200
      );
      perInterval = Math.max(perInterval, near.length);
    }
    assert.ok(
      allowed.length <= limit.limit + perInterval,
      `${allowed.length} allowed in one window, limit ${limit.limit} + ${perInterval}`,
    );
  } finally {
    for (const t of throttles) await t.close();
    for (const kv of kvs) kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
