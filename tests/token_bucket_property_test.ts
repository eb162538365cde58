import assert from "node:assert/strict";
import fc from "fast-check";
import { createTokenBucket, type TokenGrant } from "../kv/token_bucket.ts";
import { seededRandom, VirtualTime } from "./helpers/virtual_time.ts";

interface Taker {
  priority: "interactive" | "background";
  takes: number;
  /** simulated ms between takes */
  thinkMs: number;
  startMs: number;
}

const scenario = fc.record({
  ratePerS: fc.double({ min: 0.5, max: 80, noNaN: true }),
  burstFactor: fc.double({ min: 0, max: 2, noNaN: true }),
  seed: fc.integer(),
  takers: fc.array(
    fc.record({
      priority: fc.constantFrom("interactive" as const, "background" as const),
      takes: fc.integer({ min: 1, max: 4 }),
      thinkMs: fc.integer({ min: 0, max: 300 }),
      startMs: fc.integer({ min: 0, max: 1_500 }),
    }),
    { minLength: 1, maxLength: 60 },
  ),
});

/** The largest number of grants in a window of any length W, less what rate × W + burst allows. */
function worstExcess(grants: TokenGrant[], ratePerS: number, burst: number): number {
  let worst = -Infinity;
  for (let i = 0; i < grants.length; i++) {
    for (let j = i; j < grants.length; j++) {
      const allowed = (ratePerS * (grants[j].at - grants[i].at)) / 1000 + burst;
      worst = Math.max(worst, j - i + 1 - allowed);
    }
  }
  return worst;
}

Deno.test("tokenBucket: under any schedule of concurrent takers, no window gets more than rate × W + burst, and background keeps the reserve", async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ ratePerS, burstFactor, seed, takers }) => {
      const kv = await Deno.openKv(":memory:");
      try {
        const time = new VirtualTime(Date.UTC(2026, 0, 1));
        const burst = Math.max(1, ratePerS * burstFactor);
        const bucket = createTokenBucket({
          kv,
          clock: time.clock,
          ratePerS,
          burst,
          sleep: time.sleep,
          random: seededRandom(seed),
        });
        const grants: TokenGrant[] = [];
        const run = (t: Taker) => async () => {
          await time.sleep(t.startMs);
          for (let i = 0; i < t.takes; i++) {
            const grant = await bucket.take(t.priority);
            // nobody else moved the clock while this taker was busy with KV
            assert.equal(grant.at, time.clock.now());
            grants.push(grant);
            await time.sleep(t.thinkMs);
          }
        };
        await time.run(takers.map(run));

        assert.equal(grants.length, takers.reduce((n, t) => n + t.takes, 0));
        for (let i = 1; i < grants.length; i++) assert.ok(grants[i].at >= grants[i - 1].at);
        const excess = worstExcess(grants, ratePerS, burst);
        assert.ok(excess <= 1e-6, `a window got ${excess} tokens too many`);
        for (const g of grants) {
          if (g.priority === "background") {
            assert.ok(g.remaining >= bucket.reserve - 1e-6, `background left ${g.remaining}`);
          }
          assert.ok(g.remaining >= -1e-6, `the bucket went negative: ${g.remaining}`);
        }
      } finally {
        kv.close();
      }
    }),
    { numRuns: 60 },
  );
});
