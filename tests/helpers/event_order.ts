/**
 * What must not depend on the order Stripe's events arrive in (README "Transactions and money
 * edges", "Fraud detection"): the transaction, the balance, the customer's counters and fraud
 * history, after applying `events` to a fresh app.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type Stripe from "stripe";
import { createIsolateOf, createTestApp } from "./app.ts";
import { allLedgerEntries, listBalances } from "../../kv/customers.ts";
import { testId } from "./stripe_objects.ts";

/**
 * A fresh customer, the events `eventsOf` makes for them in Stripe's order,
 * and the same events in a random order.
 */
export function shuffledStories<S>(
  scenario: fc.Arbitrary<S>,
  eventsOf: (s: S, customer: string) => Stripe.Event[],
): fc.Arbitrary<[string, Stripe.Event[], Stripe.Event[]]> {
  return scenario.chain((s) => {
    const customer = testId("cus");
    const events = eventsOf(s, customer);
    return fc.tuple(
      fc.constant(customer),
      fc.constant(events),
      fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
    );
  });
}

/**
 * `isolates: 2`: the events are split between two isolates on one KV file (each its own
 * services and caches), alternately, each applying its share at once with the other's, the
 * second in the opposite order, as Deno Deploy spreads deliveries.
 */
export async function finalState(
  events: Stripe.Event[],
  customer: string,
  options: { isolates?: 1 | 2 } = {},
) {
  const split = options.isolates === 2;
  const t = await createTestApp({ file: split });
  const other = split ? await createIsolateOf(t) : null;
  try {
    if (other) {
      const mine = events.filter((_, i) => i % 2 === 0);
      const theirs = events.filter((_, i) => i % 2 === 1).reverse();
      await Promise.all([
        (async () => {
          for (const e of mine) await t.services.stripeEvents.apply(e);
        })(),
        (async () => {
          for (const e of theirs) await other.services.stripeEvents.apply(e);
        })(),
      ]);
    } else {
      for (const e of events) await t.services.stripeEvents.apply(e);
    }
    const page = await t.services.transactions.list({ limit: 10 });
    assert.equal(page.data.length, 1, "one transaction per payment");
    const { id: _id, updated_at: _u, ...txn } = page.data[0];
    const entries = await allLedgerEntries(t.kv, customer);
    const balance = (await listBalances(t.kv, customer))[0]?.amount ?? 0;
    assert.equal(balance, entries.reduce((n, e) => n + e.amount, 0), "balance == sum of entries");
    const agg = await t.services.customers.aggregates(customer);
    // all of the counters (the card's fingerprint too, whether its charge or its
    // PaymentIntent told first) and how many entries make the balance (a refund that failed
    // after Stripe accepted it leaves its entry and the reversal whichever event came first),
    // except when they were last written
    if (!agg) return { txn, balance, counters: null };
    const { updated_at: _at, fraud, ...counters } = agg;
    const balances = Object.fromEntries(
      Object.entries(agg.balances ?? {}).map(([c, b]) => [c, [b.amount, b.entries]]),
    );
    // the fraud history too, without what differs between two runs (ids, when written)
    const history = fraud && {
      attempts: fraud.attempts.map(({ x: _x, u: _u, ...a }) => a),
      disputes: fraud.disputes.map(({ x: _x, u: _u, ...d }) => d),
      warnings: fraud.warnings.map(({ x: _x, u: _u, ...w }) => w),
    };
    return { txn, balance, counters: { ...counters, balances, history } };
  } finally {
    await other?.close();
    await t.close();
  }
}
