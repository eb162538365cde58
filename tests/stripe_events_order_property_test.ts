import assert from "node:assert/strict";
import fc from "fast-check";
import type Stripe from "stripe";
import {
  earlyFraudWarningObject,
  type PaymentStory,
  paymentStory,
  reviewObject,
  stripeEvent,
  T0,
  testId,
  VISA,
} from "./helpers/stripe_objects.ts";
import { finalState, shuffledStories } from "./helpers/event_order.ts";

interface Scenario {
  amount: number;
  declinedFirst: boolean;
  processing: boolean;
  refund: null | { amount: number; fails: boolean };
  dispute: null | { won: boolean };
  /** the payment's own events are redelivered once each */
  redeliver: boolean;
  /** refunds and disputes name only the charge (as Stripe's objects may), not the PaymentIntent */
  chargeOnly: boolean;
  /** an early fraud warning and a review, naming only the charge */
  signals: boolean;
  /** authorized, then captured, in one second */
  manualCapture: boolean;
}

/** The object as Stripe may send it: `payment_intent` null, only the charge named. */
function namingOnlyTheCharge(e: Stripe.Event): Stripe.Event {
  const object = e.data.object as unknown as Record<string, unknown>;
  if (object.object !== "refund" && object.object !== "dispute") return e;
  // built as plain JSON: spreading the SDK's event union would cost the type checker minutes
  const raw = e as unknown as { data: Record<string, unknown> };
  const data = { ...raw.data, object: { ...object, payment_intent: null } };
  return { ...raw, data } as unknown as Stripe.Event;
}

/**
 * A manual capture within one second: authorized (`charge.succeeded` with
 * captured: false, `payment_intent.amount_capturable_updated`), then captured
 * (`charge.captured`, `payment_intent.succeeded`), all with the same `created`.
 */
function capturedInOneSecond(story: PaymentStory, t: number): Stripe.Event[] {
  const [chargeOk, piOk] = story.succeeded(t);
  const charge = chargeOk.data.object as unknown as Record<string, unknown>;
  const pi = piOk.data.object as unknown as Record<string, unknown>;
  const authorized = { ...charge, captured: false, amount_captured: 0, balance_transaction: null };
  const capturable = {
    ...pi,
    status: "requires_capture",
    amount_capturable: pi.amount,
    amount_received: 0,
  };
  const event = (type: string, object: Record<string, unknown>) =>
    stripeEvent(type, object as { id: string }, t);
  return [
    event("charge.succeeded", authorized),
    event("payment_intent.amount_capturable_updated", capturable),
    event("charge.captured", charge),
    piOk,
  ];
}

/** The events of one payment, in the order Stripe created them. */
function eventsOf(s: Scenario, customer: string): Stripe.Event[] {
  const story = paymentStory({ customer, amount: s.amount });
  const out: Stripe.Event[] = [story.created(T0)];
  if (s.declinedFirst) out.push(...story.failed(T0 + 1));
  if (s.processing) out.push(story.processing(T0 + 3));
  out.push(...(s.manualCapture ? capturedInOneSecond(story, T0 + 4) : story.succeeded(T0 + 4)));
  if (s.refund) {
    const { refund, created, chargeRefunded } = story.refund(T0 + 100, s.refund.amount, {
      status: "pending",
    });
    out.push(created, chargeRefunded);
    out.push(story.refundUpdated(T0 + 200, refund, s.refund.fails ? "failed" : "succeeded"));
  }
  if (s.dispute) {
    const id = testId("du");
    const at = T0 + 1000;
    out.push(story.dispute(at, "charge.dispute.created", { id, created: at }));
    out.push(
      story.dispute(at, "charge.dispute.funds_withdrawn", { id, created: at, withdrawn: true }),
    );
    const closed = {
      id,
      created: at,
      withdrawn: true,
      reinstated: s.dispute.won,
      status: s.dispute.won ? "won" as const : "lost" as const,
    };
    out.push(story.dispute(at + 5000, "charge.dispute.closed", closed));
    if (s.dispute.won) {
      out.push(story.dispute(at + 5000, "charge.dispute.funds_reinstated", closed));
    }
  }
  if (s.signals) {
    const at = T0 + 500;
    const efw = earlyFraudWarningObject({ charge: story.ch, payment_intent: null, created: at });
    out.push(stripeEvent("radar.early_fraud_warning.created", efw, at));
    out.push(
      stripeEvent(
        "review.opened",
        reviewObject({ charge: story.ch, payment_intent: null, created: at }),
        at,
      ),
    );
  }
  const named = s.chargeOnly ? out.map(namingOnlyTheCharge) : out;
  return s.redeliver ? [...named, ...named] : named;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  amount: fc.integer({ min: 100, max: 100_000 }),
  declinedFirst: fc.boolean(),
  processing: fc.boolean(),
  refund: fc.option(
    fc.record({ amount: fc.integer({ min: 1, max: 100 }), fails: fc.boolean() }),
    { nil: null },
  ),
  dispute: fc.option(fc.record({ won: fc.boolean() }), { nil: null }),
  redeliver: fc.boolean(),
  chargeOnly: fc.boolean(),
  signals: fc.boolean(),
  manualCapture: fc.boolean(),
});

Deno.test("every order of a payment's events ends in the state of the in-order sequence", async () => {
  await fc.assert(
    fc.asyncProperty(
      shuffledStories(scenario, eventsOf),
      async ([customer, inOrder, shuffled]) => {
        const expected = await finalState(inOrder, customer);
        const actual = await finalState(shuffled, customer);
        assert.deepEqual(actual, expected);
      },
    ),
    { numRuns: 80 },
  );
});

Deno.test("the in-order sequence ends where Stripe's objects end", async () => {
  const customer = testId("cus");
  const s: Scenario = {
    amount: 5000,
    declinedFirst: true,
    processing: true,
    refund: { amount: 1200, fails: false },
    dispute: { won: false },
    redeliver: false,
    chargeOnly: true,
    signals: true,
    manualCapture: true,
  };
  const { txn, balance, counters } = await finalState(eventsOf(s, customer), customer);
  const totals = counters?.totals;
  assert.equal(txn.status, "succeeded");
  assert.equal(txn.amount_refunded, 1200);
  assert.equal(txn.amount_captured, 5000);
  assert.equal(txn.amount_capturable, 0);
  assert.equal(txn.amount_disputed, 5000);
  assert.equal(txn.dispute_status, "lost");
  assert.equal(txn.risk_signals.early_fraud_warnings.length, 1);
  assert.equal(txn.risk_signals.reviews.length, 1);
  assert.equal(balance, 5000 - 1200 - 5000);
  assert.equal(totals?.payments, 1);
  assert.equal(totals?.failures, 1);
  assert.equal(totals?.disputes, 1);
  assert.deepEqual(
    Object.keys(counters?.fingerprints ?? {}),
    [VISA.fingerprint],
    "the card was seen",
  );
});

Deno.test("a payment's events split across two isolates, in opposite orders, end in the in-order state", async () => {
  await fc.assert(
    fc.asyncProperty(
      shuffledStories(scenario, eventsOf),
      async ([customer, inOrder, shuffled]) => {
        const expected = await finalState(inOrder, customer);
        const actual = await finalState(shuffled, customer, { isolates: 2 });
        assert.deepEqual(actual, expected);
      },
    ),
    { numRuns: 30 },
  );
});
