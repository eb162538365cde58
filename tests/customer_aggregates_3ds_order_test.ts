/**
 * A failed 3-D Secure challenge (`payment_intent.payment_failed` with Stripe's
 * `payment_intent_authentication_failure`, after `payment_intent.requires_action`)
 * makes no charge: only the PaymentIntent's error tells of it, and a later
 * PaymentIntent state replaces that error. The customer's counters and fraud
 * history must still end the same in every delivery order (README "Fraud
 * detection"); the money never depended on it. (Two of its events in one
 * second make the applier ask Stripe: tests/retry_ordering_test.ts.)
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type Stripe from "stripe";
import { paymentStory, T0, testId } from "./helpers/stripe_objects.ts";
import { finalState, shuffledStories } from "./helpers/event_order.ts";

type After = "nothing" | "succeeded" | "declined" | "failed_again";

interface Scenario {
  declinedFirst: boolean;
  after: After;
  redeliver: boolean;
}

function eventsOf(s: Scenario, customer: string): Stripe.Event[] {
  const story = paymentStory({ customer, amount: 4200 });
  const out: Stripe.Event[] = [story.created(T0)];
  if (s.declinedFirst) out.push(...story.failed(T0 + 1));
  out.push(story.requiresAction(T0 + 2));
  out.push(story.authenticationFailed(T0 + 3));
  if (s.after === "succeeded") out.push(...story.succeeded(T0 + 6));
  if (s.after === "declined") out.push(...story.failed(T0 + 6));
  if (s.after === "failed_again") {
    out.push(story.requiresAction(T0 + 6), story.authenticationFailed(T0 + 7));
  }
  return s.redeliver ? [...out, ...out] : out;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  declinedFirst: fc.boolean(),
  after: fc.constantFrom<After>("nothing", "succeeded", "declined", "failed_again"),
  redeliver: fc.boolean(),
});

Deno.test("a 3-D Secure failure counts the same in the customer's aggregates in every event order", async () => {
  await fc.assert(
    fc.asyncProperty(
      shuffledStories(scenario, eventsOf),
      async ([customer, inOrder, shuffled]) => {
        const expected = await finalState(inOrder, customer);
        const actual = await finalState(shuffled, customer);
        assert.deepEqual(actual.counters, expected.counters);
        assert.equal(actual.balance, expected.balance);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("a 3-D Secure failure followed by a success: the success reversed first ends as in order", async () => {
  const customer = testId("cus");
  const story = paymentStory({ customer, amount: 4200 });
  const inOrder = [
    story.created(T0),
    story.requiresAction(T0 + 2),
    story.authenticationFailed(T0 + 3),
    ...story.succeeded(T0 + 6),
  ];
  const successFirst = [inOrder[0], inOrder[3], inOrder[4], inOrder[1], inOrder[2]];
  const expected = await finalState(inOrder, customer);
  const actual = await finalState(successFirst, customer);
  assert.deepEqual(actual.counters, expected.counters);
  assert.equal(expected.txn.status, "succeeded");
});
