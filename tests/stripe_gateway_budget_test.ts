import assert from "node:assert/strict";
import { systemClock } from "../core/clock.ts";
import { withGateway } from "./helpers/stripe_gateway.ts";

const RATE = 20;
const BURST = 5;

Deno.test("stripeGateway keeps 50 concurrent callers within R + burst in every 1 s window at Stripe (real time)", async () => {
  await withGateway(async ({ gateway, emu }) => {
    const started = performance.now();
    const until = started + 2_000;
    let granted = 0;
    const caller = async () => {
      while (performance.now() < until) {
        await gateway.call((s) => s.customers.list({ limit: 1 }), { priority: "interactive" });
        granted++;
      }
    };
    await Promise.all(Array.from({ length: 50 }, caller));
    const seconds = (performance.now() - started) / 1000;

    assert.equal(emu.requests.total(), granted);
    const worst = emu.requests.maxInWindow(1000);
    assert.ok(worst <= RATE + BURST, `${worst} requests reached Stripe within one second`);
    // and the budget is actually used, not just respected (loose: the CI box is shared)
    assert.ok(granted >= BURST + RATE * seconds * 0.7, `only ${granted} calls in ${seconds} s`);
  }, {
    clock: systemClock,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    random: Math.random,
    burst: BURST,
    env: { STRIPE_RATE_LIMIT_PER_S: String(RATE) },
  });
});
