/**
 * An event whose object is not the kind its type is about (a refund in a
 * payment_intent.succeeded, a charge in a charge.dispute.created) fails naming
 * `data.object.object`, and nothing of it is applied (README, "Stripe
 * webhooks"); it is neither applied as that other kind nor "not processed".
 */
import assert from "node:assert/strict";
import { deliverSettled, withIntakeApp } from "./helpers/webhooks.ts";
import {
  chargeObject,
  customerObject,
  earlyFraudWarningObject,
  paymentIntentObject,
  paymentStory,
  refundObject,
  reviewObject,
  stripeEvent,
  T0,
} from "./helpers/stripe_objects.ts";

Deno.test("an event about another kind of object than its type's fails naming data.object.object", async () => {
  await withIntakeApp(async (t) => {
    const story = paymentStory({ customer: "cus_kind1", amount: 3000 });
    for (const e of [story.created(T0), ...story.succeeded(T0 + 1)]) {
      assert.equal((await deliverSettled(t, e)).status, "processed");
    }
    const refund = refundObject({
      charge: story.ch,
      payment_intent: story.pi,
      amount: 500,
      currency: "usd",
      status: "succeeded",
      created: T0 + 5,
    });
    const charge = chargeObject({
      id: story.ch,
      payment_intent: story.pi,
      amount: 3000,
      currency: "usd",
      customer: "cus_kind1",
      created: T0 + 1,
    });
    const pi = paymentIntentObject({ id: story.pi, amount: 3000, currency: "usd", created: T0 });
    const efw = earlyFraudWarningObject({ charge: story.ch, payment_intent: story.pi });
    const review = reviewObject({ charge: story.ch, payment_intent: story.pi });
    const customer = customerObject({ id: "cus_kind1" });
    const cases: [string, { id: string }, string][] = [
      ["payment_intent.succeeded", refund, "payment_intent"],
      ["payment_intent.canceled", charge, "payment_intent"],
      ["charge.dispute.created", charge, "dispute"],
      ["charge.dispute.closed", refund, "dispute"],
      ["refund.created", customer, "refund"],
      ["refund.updated", charge, "refund"],
      ["charge.refund.updated", charge, "refund"],
      ["charge.succeeded", pi, "charge"],
      ["charge.refunded", refund, "charge"],
      ["radar.early_fraud_warning.created", review, "radar.early_fraud_warning"],
      ["review.opened", efw, "review"],
    ];
    for (const [type, object, expected] of cases) {
      const stored = await deliverSettled(t, stripeEvent(type, object, T0 + 9));
      const got = (object as unknown as { object: string }).object;
      assert.equal(stored.status, "failed", `${type} carrying a ${got}: ${stored.detail}`);
      assert.ok(
        stored.last_error?.startsWith(`data.object.object: "${got}", not "${expected}"`),
        `${type}: ${stored.last_error}`,
      );
    }
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.amount_refunded ?? 0, 0, "no refund applied from a payment_intent event");
  });
});
