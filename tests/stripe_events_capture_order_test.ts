/**
 * A manual capture's events in every order: the customer's aggregates and
 * fraud history count the money Stripe captured (a partial capture at its
 * captured amount), and an authorization released without capture not at all.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type Stripe from "stripe";
import { createTestApp } from "./helpers/app.ts";
import { amountSummary } from "../domain/amount_stats.ts";
import { paymentStory, stripeEvent, T0, testId } from "./helpers/stripe_objects.ts";

type Raw = Record<string, unknown>;

/** Authorized for `amount` at T0+1; then captured `captured` at T0+60, or released (null). */
function manualCapture(customer: string, amount: number, captured: number | null) {
  const story = paymentStory({ customer, amount });
  const [chargeOk, piOk] = story.succeeded(T0 + 1);
  const charge = chargeOk.data.object as unknown as Raw;
  const pi = piOk.data.object as unknown as Raw;
  const event = (type: string, object: Raw, t: number) =>
    stripeEvent(type, object as { id: string }, t);
  const authorized = { ...charge, captured: false, amount_captured: 0, balance_transaction: null };
  const holding = {
    ...pi,
    status: "requires_capture",
    amount_capturable: amount,
    amount_received: 0,
  };
  const out: Stripe.Event[] = [
    story.created(T0),
    event("charge.succeeded", authorized, T0 + 1),
    event("payment_intent.amount_capturable_updated", holding, T0 + 1),
  ];
  if (captured !== null) {
    // as Stripe shows a partial capture: the released part in amount_refunded
    const done = { ...charge, amount_captured: captured, amount_refunded: amount - captured };
    out.push(event("charge.captured", done, T0 + 60));
    const paid = { ...pi, amount_received: captured, amount_capturable: 0 };
    out.push(event("payment_intent.succeeded", paid, T0 + 60));
  } else {
    const released = { ...authorized, amount_refunded: amount, refunded: true };
    out.push(event("charge.refunded", released, T0 + 60));
    const canceled = {
      ...holding,
      status: "canceled",
      amount_capturable: 0,
      canceled_at: T0 + 60,
      cancellation_reason: "requested_by_customer",
    };
    out.push(event("payment_intent.canceled", canceled, T0 + 60));
  }
  return out;
}

async function countersAfter(events: Stripe.Event[], customer: string) {
  const t = await createTestApp();
  try {
    for (const e of events) await t.services.stripeEvents.apply(e);
    const agg = await t.services.customers.aggregates(customer);
    if (!agg) return null;
    const { updated_at: _at, balances: _b, fraud, ...counters } = agg;
    return {
      ...counters,
      attempts: (fraud?.attempts ?? []).map(({ x: _x, u: _u, ...a }) => a),
    };
  } finally {
    await t.close();
  }
}

function shuffled(seed: number) {
  return (events: Stripe.Event[]) =>
    fc.sample(
      fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
      { numRuns: 1, seed },
    )[0];
}

Deno.test("a partial capture counts the captured amount in every order", async () => {
  const customer = testId("cus");
  const events = manualCapture(customer, 10000, 6000);
  const expected = await countersAfter(events, customer);
  assert.equal(expected?.totals.payments, 1);
  assert.deepEqual(Object.values(expected?.hours ?? {}).map((b) => b.amounts), [{ usd: 6000 }]);
  assert.equal(amountSummary(expected?.amount_stats.usd)?.mean, 6000);
  assert.deepEqual(expected?.attempts.map((a) => [a.o, a.a]), [["s", 6000]]);
  for (let seed = 1; seed <= 30; seed++) {
    const actual = await countersAfter(shuffled(seed)(events), customer);
    assert.deepEqual(actual, expected, `seed ${seed}`);
  }
});

Deno.test("an authorization released without capture is never counted, in any order", async () => {
  const customer = testId("cus");
  const events = manualCapture(customer, 10000, null);
  const expected = await countersAfter(events, customer);
  assert.equal(expected?.totals.payments ?? 0, 0);
  assert.deepEqual(expected?.amount_stats ?? {}, {});
  assert.deepEqual((expected?.attempts ?? []).filter((a) => a.o === "s"), []);
  for (let seed = 1; seed <= 30; seed++) {
    const actual = await countersAfter(shuffled(seed)(events), customer);
    assert.deepEqual(actual, expected, `seed ${seed}`);
  }
});
