import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { otherCard, paymentStory, T0, testId } from "./helpers/stripe_objects.ts";
import { allLedgerEntries, listBalances } from "../kv/customers.ts";
import { createStripeEventApplier } from "../services/ingest/applier.ts";

/** Many payments of one customer: each paid, some refunded (one refund fails), some disputed. */
function customerHistory(customer: string, payments: number) {
  const events: Stripe.Event[] = [];
  let expected = 0;
  for (let i = 0; i < payments; i++) {
    const amount = 1000 + i * 10;
    const story = paymentStory({ customer, amount, card: otherCard(i % 4) });
    const t = T0 + i * 10;
    events.push(story.created(t), ...story.succeeded(t + 1));
    expected += amount;
    if (i % 3 === 0) {
      const { refund, created, chargeRefunded } = story.refund(t + 5, 300);
      events.push(created, chargeRefunded);
      if (i % 6 === 0) {
        events.push(story.refundUpdated(t + 6, refund, "failed"));
      } else {
        expected -= 300;
      }
    }
    if (i % 5 === 1) {
      const id = testId("du");
      events.push(story.dispute(t + 7, "charge.dispute.funds_withdrawn", { id, withdrawn: true }));
      expected -= amount;
    }
  }
  return { events, expected };
}

function shuffle<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function assertLedgerConsistent(t: TestApp, customer: string, expected: number) {
  const entries = await allLedgerEntries(t.kv, customer);
  const balances = await listBalances(t.kv, customer);
  assert.equal(balances.length, 1);
  const sum = entries.reduce((n, e) => n + e.amount, 0);
  assert.equal(balances[0].amount, sum, "balance == sum of its entries");
  assert.equal(balances[0].entries, entries.length);
  assert.equal(sum, expected, "the ledger matches Stripe's money");
}

Deno.test("ledger balance == sum of entries when one customer's events arrive all at once", async () => {
  await withTestApp(async (t) => {
    const { events, expected } = customerHistory("cus_Busy1", 24);
    const results = await Promise.all(
      shuffle(events).map((e) => t.services.stripeEvents.apply(e)),
    );
    assert.ok(results.some((r) => r.applied));
    await assertLedgerConsistent(t, "cus_Busy1", expected);
    const agg = await t.services.customers.aggregates("cus_Busy1");
    assert.equal(agg?.totals.payments, 24);
    assert.equal(Object.keys(agg?.fingerprints ?? {}).length, 4);
    const page = await t.services.transactions.list({ customer: "cus_Busy1", limit: 100 });
    assert.equal(page.data.length, 24);
  });
});

Deno.test("two appliers on one KV (two isolates) keep the ledger exact through OCC alone", async () => {
  await withTestApp(async (t) => {
    const svc = { audit: t.services.audit, newId: t.services.newId };
    const a = createStripeEventApplier(t.deps, svc);
    const b = createStripeEventApplier(t.deps, svc);
    const { events, expected } = customerHistory("cus_Busy2", 12);
    // every event delivered to both (a redelivery racing the first delivery)
    await Promise.all(shuffle(events).flatMap((e) => [a.apply(e), b.apply(e)]));
    await assertLedgerConsistent(t, "cus_Busy2", expected);
    const agg = await t.services.customers.aggregates("cus_Busy2");
    assert.equal(agg?.totals.payments, 12);
  });
});

Deno.test("on a file KV with a second handle for reads (as main.ts opens it) the ledger stays exact", async () => {
  await withTestApp(async (t) => {
    assert.ok(t.deps.kvReads, "the applier reads through its own handle");
    const svc = { audit: t.services.audit, newId: t.services.newId };
    const other = createStripeEventApplier(t.deps, svc);
    const busy = customerHistory("cus_Busy3", 16);
    const calm = customerHistory("cus_Calm3", 6);
    // the first applier takes every event as the intake does, a second one races redeliveries
    await Promise.all([
      ...shuffle([...busy.events, ...calm.events]).map((e) => t.services.stripeEvents.apply(e)),
      ...shuffle(busy.events).map((e) => other.apply(e)),
    ]);
    await assertLedgerConsistent(t, "cus_Busy3", busy.expected);
    await assertLedgerConsistent(t, "cus_Calm3", calm.expected);
    const page = await t.services.transactions.list({ customer: "cus_Busy3", limit: 100 });
    assert.equal(page.data.length, 16);
  }, { file: true });
});
