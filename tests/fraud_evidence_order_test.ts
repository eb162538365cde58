/**
 * The same payments give the same fraud alerts and the same amount statistics
 * whatever order their events arrived in (README "Fraud detection"): the
 * evidence a rule picks (the transactions, customers and cards it names, at
 * most 20 of each) comes from inputs in a stable order, never the order
 * things were written, and a customer's amount deviation is computed from
 * exact integer sums, so not even its last digit moves.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type Stripe from "stripe";
import { createTestApp } from "./helpers/app.ts";
import { chargeEvent, otherCard, T0 } from "./helpers/stripe_objects.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";
import { amountStats } from "../services/ingest/aggregates_view.ts";

const T = T0 - 1800;

function charge(
  customer: string,
  at: number,
  o: { failed?: boolean; amount?: number; card: number },
): Stripe.Event {
  return chargeEvent(customer, at, { ...o, card: otherCard(o.card) });
}

/**
 * A busy customer (payments three to a second with amounts whose float sums
 * depend on their order, card testing two declines to a second) and one card
 * declined twice in the same second for each of four other customers.
 */
function events(): Stripe.Event[] {
  const out: Stripe.Event[] = [];
  for (let i = 0; i < 12; i++) {
    out.push(charge("cus_busy", T + Math.floor(i / 3) * 30, {
      amount: 700 + 37 * i + (i % 3) * 1_000_003,
      card: 500 + (i % 6),
    }));
  }
  for (let i = 0; i < 9; i++) {
    out.push(
      charge("cus_busy", T + 200 + Math.floor(i / 2), { failed: true, card: 900 + (i % 4) }),
    );
  }
  for (const c of ["cus_b", "cus_c", "cus_d", "cus_e"]) {
    for (let k = 0; k < 2; k++) out.push(charge(c, T + 400, { failed: true, card: 901 }));
  }
  out.push(charge("cus_busy", T + 500, { amount: 9_000_000, card: 500 }));
  return out;
}

/** Applies `events` in this order, sweeps once, and returns what must not depend on the order. */
async function outcome(events: Stripe.Event[]) {
  const t = await createTestApp();
  try {
    for (const e of events) {
      await t.services.stripeEvents.apply(e);
      t.clock.advance(1_000);
    }
    t.clock.advance(WALK_LAG_MS);
    await t.services.fraud.sweep({ trigger: "test" });
    // transaction ids are made here, at first sight: name each by its Stripe charge instead
    const charges = new Map<string, string>();
    for (let cursor: string | undefined, more = true; more;) {
      const page = await t.services.transactions.list({ limit: 100, cursor });
      for (const x of page.data) charges.set(x.id, x.stripe_charge ?? x.id);
      cursor = page.next_cursor ?? undefined;
      more = cursor !== undefined;
    }
    const page = await t.services.fraud.listAlerts({ limit: 100 });
    const alerts = page.data
      .map(({ id: _id, history: _h, ...a }) => a)
      .sort((a, b) => `${a.subject}|${a.rule}`.localeCompare(`${b.subject}|${b.rule}`));
    const agg = await t.services.customers.aggregates("cus_busy");
    const text = JSON.stringify({ alerts, stats: agg && amountStats(agg, "usd") });
    return JSON.parse(text.replace(/txn_[0-9A-Za-z]+/g, (id) => charges.get(id) ?? id));
  } finally {
    await t.close();
  }
}

Deno.test("fraud alerts' evidence and a customer's amount deviation are the same in every event order", async () => {
  const all = events();
  const expected = await outcome(all);
  assert.ok(
    expected.alerts.length >= 2,
    JSON.stringify(expected.alerts.map((a: { rule: string }) => a.rule)),
  );
  const card = expected.alerts.find((a: { subject: string }) => a.subject === "card:fpTest901");
  assert.equal(card.signals.at(-1).evidence.declines, 10, "each decline counted once");
  await fc.assert(
    fc.asyncProperty(
      fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
      async (shuffled) => {
        assert.deepEqual(await outcome(shuffled), expected);
      },
    ),
    { numRuns: 25 },
  );
});
