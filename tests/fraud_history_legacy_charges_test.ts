/**
 * A webhook endpoint pinned to an API version before 2022-11-15 receives
 * PaymentIntents that list their charges (`charges: {object: "list", …}`)
 * and carry no `latest_charge` (tests/helpers/legacy_shapes.ts). Each charge
 * attempt counts once in the customer's fraud history and aggregates (README
 * "Fraud detection"), whatever the shape, the order, a second delivery, or a
 * second endpoint on today's version delivering the same events; and an
 * endpoint that listens to PaymentIntent events only still counts the
 * charges they list (the card, the declines), as today's shape with the
 * charge events does.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type Stripe from "stripe";
import {
  chargeObject,
  GENERIC_DECLINE,
  paymentIntentObject,
  stripeEvent,
  T0,
  testId,
  VISA,
} from "./helpers/stripe_objects.ts";
import { legacyEvent } from "./helpers/legacy_shapes.ts";
import { finalState, shuffledStories } from "./helpers/event_order.ts";

interface Scenario {
  declinedFirst: boolean;
  /** the endpoint also listens to charge.* (else PaymentIntent events only) */
  chargeEvents: boolean;
  /** a second endpoint, on today's version, receives the same events (same ids) and the charges' */
  modernEndpointToo: boolean;
  /** every delivery is made twice */
  redeliver: boolean;
}

interface Payment {
  /** the events in Stripe's order, today's shape */
  modern: Stripe.Event[];
  /** the same events (same ids) as the pinned endpoint receives them */
  legacy: Stripe.Event[];
  /** which of them are charge events */
  isCharge: boolean[];
  charges: string[];
}

/** One card payment: maybe declined once, then succeeded; each event in both shapes. */
function payment(customer: string, declinedFirst: boolean): Payment {
  const pi = testId("pi");
  const failedId = testId("ch");
  const okId = testId("ch");
  const amount = 4200;
  const base = { id: pi, amount, customer, created: T0 };
  const failed = chargeObject({
    id: failedId,
    payment_intent: pi,
    customer,
    amount,
    status: "failed",
    created: T0 + 1,
    card: VISA,
    decline: GENERIC_DECLINE,
  });
  const ok = chargeObject({
    id: okId,
    payment_intent: pi,
    customer,
    amount,
    created: T0 + 4,
    card: VISA,
  });
  const steps: { event: Stripe.Event; listed: Stripe.Charge[]; charge: boolean }[] = [];
  steps.push({
    event: stripeEvent("payment_intent.created", paymentIntentObject(base), T0),
    listed: [],
    charge: false,
  });
  if (declinedFirst) {
    steps.push({ event: stripeEvent("charge.failed", failed, T0 + 1), listed: [], charge: true });
    const declined = paymentIntentObject({
      ...base,
      status: "requires_payment_method",
      latest_charge: failedId,
      decline: { ...GENERIC_DECLINE, charge: failedId, card: VISA },
    });
    steps.push({
      event: stripeEvent("payment_intent.payment_failed", declined, T0 + 1),
      listed: [failed],
      charge: false,
    });
  }
  steps.push({ event: stripeEvent("charge.succeeded", ok, T0 + 4), listed: [], charge: true });
  const succeeded = paymentIntentObject({ ...base, status: "succeeded", latest_charge: okId });
  steps.push({
    event: stripeEvent("payment_intent.succeeded", succeeded, T0 + 4),
    listed: declinedFirst ? [ok, failed] : [ok],
    charge: false,
  });
  return {
    modern: steps.map((s) => s.event),
    legacy: steps.map((s) => legacyEvent(s.event, s.listed)),
    isCharge: steps.map((s) => s.charge),
    charges: declinedFirst ? [failedId, okId] : [okId],
  };
}

/** What the pinned endpoint (and the other, if any) delivers, in Stripe's order. */
function deliveries(s: Scenario, p: Payment): Stripe.Event[] {
  const keep = (_: unknown, i: number) => s.chargeEvents || !p.isCharge[i];
  const out = p.legacy.filter(keep);
  // today's endpoint listens to both kinds, as the README's setup asks
  if (s.modernEndpointToo) out.push(...p.modern);
  return s.redeliver ? [...out, ...out] : out;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  declinedFirst: fc.boolean(),
  chargeEvents: fc.boolean(),
  modernEndpointToo: fc.boolean(),
  redeliver: fc.boolean(),
});

type History = NonNullable<NonNullable<Awaited<ReturnType<typeof finalState>>["counters"]>>;

/** Each charge attempt once in the history, by its charge id, with its card; and the counts. */
function assertCountedOnce(counters: History | null, declinedFirst: boolean, what: string) {
  assert.ok(counters, what);
  const attempts = counters.history?.attempts ?? [];
  assert.deepEqual(
    attempts.map((a) => [a.o, a.f]),
    declinedFirst ? [["f", VISA.fingerprint], ["s", VISA.fingerprint]] : [["s", VISA.fingerprint]],
    `${what}: ${JSON.stringify(attempts)}`,
  );
  assert.ok(attempts.every((a) => a.k.startsWith("ch_")), `${what}: ${JSON.stringify(attempts)}`);
  assert.equal(counters.totals.payments, 1, what);
  assert.equal(counters.totals.failures, declinedFirst ? 1 : 0, what);
  assert.deepEqual(Object.keys(counters.fingerprints), [VISA.fingerprint], what);
}

Deno.test("a PaymentIntent listing its charges (API before 2022-11-15) counts each attempt once", async (t) => {
  for (const declinedFirst of [false, true]) {
    await t.step(declinedFirst ? "declined, then paid" : "paid", async () => {
      const customer = testId("cus");
      const p = payment(customer, declinedFirst);
      const today = await finalState(p.modern, customer);
      assertCountedOnce(today.counters, declinedFirst, "today's shape");
      const pinned = await finalState(p.legacy, customer);
      assertCountedOnce(pinned.counters, declinedFirst, "the older shape");
      assert.deepEqual(pinned, today, "the same payment in either shape ends the same");
    });
  }
});

Deno.test("an endpoint on the older version listening to PaymentIntent events only still counts their charges", async () => {
  const customer = testId("cus");
  const p = payment(customer, true);
  const pinned = await finalState(p.legacy.filter((_, i) => !p.isCharge[i]), customer);
  assertCountedOnce(pinned.counters, true, "PaymentIntent events only");
  assert.deepEqual(pinned, await finalState(p.modern, customer));
});

Deno.test("every order of the older shape's deliveries (twice, or beside today's) counts each attempt once", async () => {
  await fc.assert(
    fc.asyncProperty(
      shuffledStories(scenario, (s, customer) => deliveries(s, payment(customer, s.declinedFirst))),
      async ([customer, inOrder, shuffled]) => {
        const declinedFirst = inOrder.some((e) => e.type === "payment_intent.payment_failed");
        const expected = await finalState(inOrder, customer);
        const actual = await finalState(shuffled, customer);
        assertCountedOnce(expected.counters, declinedFirst, "in order");
        assert.deepEqual(actual, expected);
      },
    ),
    { numRuns: 60 },
  );
});
