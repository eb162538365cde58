import assert from "node:assert/strict";
import { withKv } from "./helpers/kv.ts";
import { keys } from "../kv/keys.ts";
import {
  bucketReserve,
  type BucketState,
  createTokenBucket,
  decideTake,
  refill,
  type TokenGrant,
} from "../kv/token_bucket.ts";
import { ManualClock } from "../core/clock.ts";
import { seededRandom, VirtualTime } from "./helpers/virtual_time.ts";

const shape = { ratePerS: 10, burst: 8, reserve: 2 };

Deno.test("refill() adds rate × elapsed, capped at burst", () => {
  const t0 = 1_000_000;
  assert.deepEqual(refill({ tokens: 1, updated_at: t0 }, t0 + 300, shape), {
    tokens: 4,
    updated_at: t0 + 300,
  });
  assert.deepEqual(refill({ tokens: 1, updated_at: t0 }, t0 + 60_000, shape), {
    tokens: 8,
    updated_at: t0 + 60_000,
  });
});

Deno.test("refill() starts a missing bucket full and ignores a clock running behind", () => {
  assert.deepEqual(refill(null, 5_000, shape), { tokens: 8, updated_at: 5_000 });
  // another isolate's clock is ahead: no tokens appear and time does not go back
  assert.deepEqual(refill({ tokens: 0.5, updated_at: 9_000 }, 8_000, shape), {
    tokens: 0.5,
    updated_at: 9_000,
  });
});

Deno.test("decideTake() lets interactive take the last token but keeps background above the reserve", () => {
  const state: BucketState = { tokens: 2.5, updated_at: 0 };
  assert.deepEqual(decideTake(state, "interactive", shape), {
    granted: true,
    next: { tokens: 1.5, updated_at: 0 },
  });
  // background needs reserve + 1 = 3 tokens; 0.5 missing at 10/s = 50 ms
  assert.deepEqual(decideTake(state, "background", shape), { granted: false, waitMs: 50 });
  assert.deepEqual(decideTake({ tokens: 0.2, updated_at: 0 }, "interactive", shape), {
    granted: false,
    waitMs: 80,
  });
});

Deno.test("bucketReserve() is a quarter of burst but always leaves background a token to take", () => {
  assert.equal(bucketReserve(20), 5);
  assert.equal(bucketReserve(1), 0);
  assert.equal(bucketReserve(2), 0.5);
  assert.equal(bucketReserve(4, 0.9), 3);
});

Deno.test("createTokenBucket() refuses a rate or burst that cannot work", () =>
  withKv((kv) => {
    const clock = new ManualClock();
    assert.throws(() => createTokenBucket({ kv, clock, ratePerS: 0 }), /rate must be a positive/);
    assert.throws(() => createTokenBucket({ kv, clock, ratePerS: 5, burst: 0.5 }), /at least 1/);
    const b = createTokenBucket({ kv, clock, ratePerS: 0.5 });
    assert.equal(b.burst, 1);
    assert.equal(b.reserve, 0);
    return Promise.resolve();
  }));

Deno.test("take() hands out the burst at once, then waits for each refill instead of going over", () =>
  withKv(async (kv) => {
    const clock = new ManualClock(1_000_000);
    const sleeps: number[] = [];
    const bucket = createTokenBucket({
      kv,
      clock,
      ratePerS: 4,
      burst: 3,
      random: () => 0,
      sleep: (ms) => {
        sleeps.push(ms);
        clock.advance(ms);
        return Promise.resolve();
      },
    });
    const grants: TokenGrant[] = [];
    for (let i = 0; i < 5; i++) grants.push(await bucket.take());
    assert.deepEqual(grants.map((g) => g.at - 1_000_000), [0, 0, 0, 250, 500]);
    assert.deepEqual(grants.map((g) => g.waitedMs), [0, 0, 0, 250, 250]);
    assert.deepEqual(sleeps, [250, 250]);
    const stored = await kv.get<BucketState>(keys.stripeBucket("stripe"));
    assert.deepEqual(stored.value, { tokens: 0, updated_at: 1_000_500 });
  }));

Deno.test("tryTake() never writes when it refuses", () =>
  withKv(async (kv) => {
    const clock = new ManualClock(0);
    const bucket = createTokenBucket({ kv, clock, ratePerS: 2, burst: 1, name: "t" });
    assert.equal((await bucket.tryTake()).granted, true);
    const before = await kv.get(keys.stripeBucket("t"));
    assert.deepEqual(await bucket.tryTake(), { granted: false, waitMs: 500 });
    const after = await kv.get(keys.stripeBucket("t"));
    assert.equal(after.versionstamp, before.versionstamp);
  }));

Deno.test("two buckets on the same KV key share one budget (as two isolates would)", () =>
  withKv(async (kv) => {
    const clock = new ManualClock(0);
    const a = createTokenBucket({ kv, clock, ratePerS: 1, burst: 2 });
    const b = createTokenBucket({ kv, clock, ratePerS: 1, burst: 2 });
    const results = await Promise.all([a.tryTake(), b.tryTake(), a.tryTake(), b.tryTake()]);
    assert.equal(results.filter((r) => r.granted).length, 2);
  }));

Deno.test("an interactive caller is served at once while background sweeps saturate the budget", () =>
  withKv(async (kv) => {
    const time = new VirtualTime(0);
    const bucket = createTokenBucket({
      kv,
      clock: time.clock,
      ratePerS: 10,
      burst: 8,
      sleep: time.sleep,
      random: seededRandom(7),
    });
    const background: TokenGrant[] = [];
    let interactive: TokenGrant | undefined;
    const sweeper = async () => {
      while (time.clock.now() < 5_000) background.push(await bucket.take("background"));
    };
    await time.run([
      ...Array.from({ length: 20 }, () => sweeper),
      async () => {
        await time.sleep(2_000);
        interactive = await bucket.take("interactive");
      },
    ]);
    assert.ok(interactive);
    assert.equal(interactive.waitedMs, 0);
    assert.ok(interactive.remaining >= 1, `the reserve was there: ${interactive.remaining}`);
    assert.ok(background.every((g) => g.remaining >= bucket.reserve - 1e-9));
    // sweeps still get (nearly) the whole budget: 6 at once + 10/s for 5 s, less the interactive one
    const inFiveSeconds = background.filter((g) => g.at <= 5_000).length;
    assert.ok(inFiveSeconds >= 50 && inFiveSeconds <= 55, `${inFiveSeconds}`);
  }));
