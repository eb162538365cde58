/**
 * `takeTogether` (kv/token_bucket.ts): an endpoint's token and the shared
 * budget's in one commit, both or neither; and concurrent takers of one bucket
 * sharing reads and commits never get more than the bucket holds.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../core/clock.ts";
import { createTokenBucket, takeTogether } from "../kv/token_bucket.ts";

async function withKv(fn: (kv: Deno.Kv) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

function pair(kv: Deno.Kv, clock: ManualClock, sub: number, shared: number) {
  const sleep = (ms: number) => {
    clock.advance(ms);
    return Promise.resolve();
  };
  return {
    sub: createTokenBucket({ kv, clock, ratePerS: sub, burst: sub, name: "sub", sleep }),
    shared: createTokenBucket({ kv, clock, ratePerS: shared, burst: shared, name: "all", sleep }),
  };
}

Deno.test("takeTogether() takes both tokens or neither: a wait for one holds nothing of the other", () =>
  withKv(async (kv) => {
    const clock = new ManualClock(1_000_000);
    const { sub, shared } = pair(kv, clock, 5, 2);
    // the shared budget runs out first: the sub-bucket keeps what was not taken with it
    await Promise.all(Array.from({ length: 2 }, () => takeTogether([sub, shared])));
    assert.equal((await shared.tryTake()).granted, false);
    assert.equal(Math.round((await sub.peek()).tokens), 3);
    for (let i = 0; i < 3; i++) assert.equal((await sub.tryTake()).granted, true);
    assert.equal((await sub.tryTake()).granted, false);
  }));

Deno.test("takeTogether() and shared takes, concurrent, never exceed either bucket (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({ together: fc.boolean(), n: fc.integer({ min: 1, max: 6 }), gap: fc.nat(400) }),
        { minLength: 1, maxLength: 12 },
      ),
      async (rounds) => {
        await withKv(async (kv) => {
          const start = 1_000_000;
          const clock = new ManualClock(start);
          const { sub, shared } = pair(kv, clock, 3, 5);
          let subTaken = 0;
          let sharedTaken = 0;
          for (const r of rounds) {
            clock.advance(r.gap);
            const got = await Promise.all(
              Array.from(
                { length: r.n },
                () => r.together ? takeTogether([sub, shared]) : shared.take(),
              ),
            );
            sharedTaken += got.length;
            if (r.together) subTaken += got.length;
            const elapsedS = (clock.now() - start) / 1000;
            assert.ok(sharedTaken <= 5 + 5 * elapsedS + 1e-6, "the shared budget");
            assert.ok(subTaken <= 3 + 3 * elapsedS + 1e-6, "the endpoint's bucket");
          }
        });
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("concurrent take() calls of one isolate share commits and hand out exactly the burst", () =>
  withKv(async (kv) => {
    const clock = new ManualClock(1_000_000);
    let commits = 0;
    const counted = new Proxy(kv, {
      get(t, p) {
        const v = Reflect.get(t, p, t);
        if (p !== "atomic") return typeof v === "function" ? v.bind(t) : v;
        return () => {
          commits++;
          return t.atomic();
        };
      },
    });
    const bucket = createTokenBucket({ kv: counted, clock, ratePerS: 1, burst: 10 });
    const tries = await Promise.all(Array.from({ length: 30 }, () => bucket.tryTake()));
    assert.equal(tries.filter((t) => t.granted).length, 10);
    assert.ok(commits <= 3, `${commits} commits for 30 concurrent takers`);
  }));
