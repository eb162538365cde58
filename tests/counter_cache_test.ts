import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { paymentStory, T0 } from "./helpers/stripe_objects.ts";
import { CounterCache } from "../kv/read_cache.ts";
import { keys } from "../kv/keys.ts";
import { allLedgerEntries, listBalances } from "../kv/customers.ts";
import { ManualClock } from "../core/clock.ts";
import { createStripeEventApplier } from "../services/ingest/applier.ts";
import type { TestApp } from "./helpers/app.ts";

const countersKey = keys.customerAggregates("cus_C");
const otherKey = keys.customerAggregates("cus_D");

Deno.test("CounterCache keeps customers' counters only, the newest version, for a while", () => {
  const clock = new ManualClock(T0 * 1000);
  const cache = new CounterCache(clock, { ttlMs: 1_000, maxEntries: 2 });
  cache.fill({ key: ["customers", "cus_C"], value: { id: "cus_C" }, versionstamp: "01" });
  cache.fill({ key: keys.ledgerEntry("cus_C", "led_1"), value: {}, versionstamp: "01" });
  assert.equal(cache.size, 0, "the customer record and ledger entries are not kept");

  cache.wrote(countersKey, { n: 5 }, "0000000000000005");
  cache.fill({ key: countersKey, value: { n: 3 }, versionstamp: "0000000000000003" });
  assert.deepEqual(cache.get(countersKey)?.value, { n: 5 }, "an older read does not win");
  cache.fill({ key: countersKey, value: { n: 7 }, versionstamp: "0000000000000007" });
  assert.deepEqual(cache.get(countersKey)?.value, { n: 7 });

  cache.fill({ key: otherKey, value: null, versionstamp: null });
  assert.equal(cache.get(otherKey)?.versionstamp, null, "absence is kept too (checked)");
  cache.wrote(keys.customerAggregates("cus_E"), {}, "0000000000000008");
  assert.equal(cache.size, 2, "the oldest entry made room");
  assert.equal(cache.get(countersKey), null);

  clock.advance(1_001);
  assert.equal(cache.get(keys.customerAggregates("cus_E")), null, "expired");
  cache.wrote(countersKey, { n: 9 }, "0000000000000009");
  cache.forget([JSON.stringify(countersKey)]);
  assert.equal(cache.get(countersKey), null);
});

async function ledgerIsExact(t: TestApp, customer: string, expected: number) {
  const entries = await allLedgerEntries(t.kv, customer);
  const [balance] = await listBalances(t.kv, customer);
  assert.equal(balance.amount, entries.reduce((n, e) => n + e.amount, 0));
  assert.equal(balance.entries, entries.length);
  assert.equal(balance.amount, expected);
}

Deno.test("an applier whose cached counters another isolate made stale applies the event anyway", async () => {
  await withTestApp(async (t) => {
    const svc = { audit: t.services.audit, newId: t.services.newId };
    const a = createStripeEventApplier(t.deps, svc);
    const b = createStripeEventApplier(t.deps, svc);
    const payments = [1000, 2000, 3000, 4000].map((amount) =>
      paymentStory({ customer: "cus_Stale", amount })
    );
    // a keeps the counters, b moves them on, a goes on with what it kept
    for (const [i, p] of payments.entries()) {
      for (const e of p.succeeded(T0 + i)) {
        const applied = await (i % 2 ? b : a).apply(e);
        assert.equal(applied.applied, true);
      }
    }
    await ledgerIsExact(t, "cus_Stale", 10_000);
    const agg = await t.services.customers.aggregates("cus_Stale");
    assert.equal(agg?.totals.payments, 4);
  });
});

Deno.test("a refund applied on the audited path leaves no stale counters behind", async () => {
  await withTestApp(async (t) => {
    const first = paymentStory({ customer: "cus_Refunded", amount: 5000 });
    for (const e of first.succeeded(T0)) await t.services.stripeEvents.apply(e);
    const { created, chargeRefunded } = first.refund(T0 + 10, 1500);
    for (const e of [created, chargeRefunded]) await t.services.stripeEvents.apply(e);
    const second = paymentStory({ customer: "cus_Refunded", amount: 700 });
    for (const e of second.succeeded(T0 + 20)) await t.services.stripeEvents.apply(e);
    await ledgerIsExact(t, "cus_Refunded", 5000 - 1500 + 700);
  });
});
