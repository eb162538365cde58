import assert from "node:assert/strict";
import { endpointBuckets, endpointBudget } from "../services/stripe/gateway.ts";
import type { TokenBucket } from "../kv/token_bucket.ts";
import { parseConfig } from "../config.ts";
import { withGateway } from "./helpers/stripe_gateway.ts";
import { seededRandom, VirtualTime } from "./helpers/virtual_time.ts";

Deno.test("endpointBudget(): 25/s per endpoint, 20/s for Files and for Search", () => {
  assert.deepEqual(endpointBudget("/v1/customers/cus_1?expand[]=x"), {
    name: "stripe_endpoint_customers",
    limitPerS: 25,
  });
  assert.deepEqual(endpointBudget("/v1/payment_intents/pi_1/confirm"), {
    name: "stripe_endpoint_payment_intents",
    limitPerS: 25,
  });
  assert.deepEqual(endpointBudget("/v1/files"), { name: "stripe_files", limitPerS: 20 });
  assert.deepEqual(endpointBudget("/v1/charges/search?query=x"), {
    name: "stripe_search",
    limitPerS: 20,
  });
  assert.deepEqual(endpointBudget("/v1/customers/search"), {
    name: "stripe_search",
    limitPerS: 20,
  });
  // STRIPE_ENDPOINT_RATE_LIMIT_PER_S moves the general limit; Files and Search keep theirs
  const config = parseConfig({ KV_PATH: ":memory:", STRIPE_ENDPOINT_RATE_LIMIT_PER_S: "100" });
  assert.equal(config.stripe.endpointRateLimitPerS, 100);
  assert.equal(parseConfig({ KV_PATH: ":memory:" }).stripe.endpointRateLimitPerS, 25);
  assert.equal(endpointBudget("/v1/refunds", 100).limitPerS, 100);
  assert.equal(endpointBudget("/v1/files", 100).limitPerS, 20);
});

Deno.test("endpointBuckets(): 4/5 of the limit with 1/5 burst; none where the shared budget cannot reach it", () => {
  const made: Array<{ name: string; ratePerS: number; burst: number }> = [];
  const make = (name: string, ratePerS: number, burst: number) => {
    made.push({ name, ratePerS, burst });
    return { ratePerS, burst } as unknown as TokenBucket;
  };
  // shared budget 100/s with a burst of 100: up to 200 in a second
  const lifted = endpointBuckets(make, 500, 200);
  assert.equal(lifted("/v1/refunds"), null);
  assert.ok(lifted("/v1/files"));
  const usual = endpointBuckets(make, 25, 200);
  assert.equal(usual("/v1/refunds"), usual("/v1/refunds/re_1"), "one bucket per endpoint");
  assert.deepEqual(made, [
    { name: "stripe_files", ratePerS: 16, burst: 4 },
    { name: "stripe_endpoint_refunds", ratePerS: 20, burst: 5 },
  ]);
});

/** Most requests in any window of `ms` starting at one of `stamps` (sorted). */
function maxInWindow(stamps: number[], ms: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < stamps.length; i++) {
    while (stamps[j] <= stamps[i] - ms) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** A customer made at the emulator directly, outside the gateway's budget. */
function floodCustomer(emu: { url: string; fetch(r: Request): Promise<Response> }) {
  return emu.fetch(
    new Request(`${emu.url}/v1/customers`, {
      method: "POST",
      headers: { authorization: "Bearer sk_test_x" },
      body: new URLSearchParams({ email: "flood@example.com" }),
    }),
  ).then((r) => r.json());
}

Deno.test("one endpoint flooded keeps to its 25/s and leaves the shared budget to the others", async () => {
  const time = new VirtualTime(Date.UTC(2026, 0, 1));
  // virtual time stands still while a request is in flight: the time a call returns is when it was sent
  const customers: number[] = [];
  const charges: number[] = [];
  await withGateway(async ({ gateway, emu }) => {
    const customer = await floodCustomer(emu);
    const until = time.clock.now() + 4_000;
    const loop = (call: () => Promise<unknown>, stamps: number[]) => async () => {
      while (time.clock.now() < until) {
        await call();
        stamps.push(time.clock.now());
      }
    };
    await time.run([
      // 40 callers on one endpoint: the flood
      ...Array.from(
        { length: 40 },
        () => loop(() => gateway.call((s) => s.customers.retrieve(customer.id)), customers),
      ),
      // 2 callers on another
      ...Array.from(
        { length: 2 },
        () => loop(() => gateway.call((s) => s.charges.list()), charges),
      ),
    ]);
  }, {
    env: { STRIPE_RATE_LIMIT_PER_S: "100" },
    clock: time.clock,
    sleep: time.sleep,
    random: seededRandom(3),
  });
  customers.sort((a, b) => a - b);
  charges.sort((a, b) => a - b);
  // never past the endpoint's limit in any second, opening burst included
  assert.ok(maxInWindow(customers, 1000) <= 25, `customers: ${maxInWindow(customers, 1000)}/s`);
  // and it does get about its limit: 4/5 of 25 a second after a burst of 5
  assert.ok(customers.length >= 4 * 20, `customers: ${customers.length} in 4 s`);
  // the other endpoint's two callers are not starved by the flood
  assert.ok(charges.length >= 4 * 10, `charges: only ${charges.length} in 4 s`);
  assert.ok(maxInWindow(charges, 1000) <= 25);
});

Deno.test("isolates: two gateways on one KV flooding one endpoint keep to its 25/s and the shared budget together", async () => {
  const time = new VirtualTime(Date.UTC(2026, 0, 1));
  const customers: number[] = [];
  const all: number[] = [];
  await withGateway(async ({ gateway, others, emu }) => {
    const customer = await floodCustomer(emu);
    const until = time.clock.now() + 3_000;
    const loop = (call: () => Promise<unknown>, stamps: number[]) => async () => {
      while (time.clock.now() < until) {
        await call();
        stamps.push(time.clock.now());
        all.push(time.clock.now());
      }
    };
    const charges: number[] = [];
    await time.run([gateway, ...others].flatMap((g) => [
      ...Array.from(
        { length: 15 },
        () => loop(() => g.call((s) => s.customers.retrieve(customer.id)), customers),
      ),
      ...Array.from({ length: 15 }, () => loop(() => g.call((s) => s.charges.list()), charges)),
    ]));
  }, {
    env: { STRIPE_RATE_LIMIT_PER_S: "30" },
    clock: time.clock,
    sleep: time.sleep,
    random: seededRandom(5),
    isolates: 2,
  });
  customers.sort((a, b) => a - b);
  all.sort((a, b) => a - b);
  assert.ok(maxInWindow(customers, 1000) <= 25, `customers: ${maxInWindow(customers, 1000)}/s`);
  // the shared budget: 30/s with a burst of 30, so at most 60 in any second and 30/s after
  assert.ok(maxInWindow(all, 1000) <= 60, `all: ${maxInWindow(all, 1000)}/s`);
  // and over the whole run (waiting callers finish past the 3 s): the burst, then 30/s
  const span = (all.at(-1)! - all[0]) / 1000;
  assert.ok(all.length <= 30 + 30 * span + 1, `all: ${all.length} in ${span} s`);
});
