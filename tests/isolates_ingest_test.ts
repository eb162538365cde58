/**
 * One transaction per payment when two isolates take its events at once (README
 * "Transactions and money edges"): an object naming only the charge (here an early fraud
 * warning) makes a charge-keyed stub on one isolate while the other links that charge to
 * the PaymentIntent's record. Whichever commits first, the stub ends merged into the
 * payment, never beside it.
 */
import assert from "node:assert/strict";
import { createIsolateOf, createTestApp } from "./helpers/app.ts";
import {
  earlyFraudWarningObject,
  paymentStory,
  stripeEvent,
  T0,
  testId,
} from "./helpers/stripe_objects.ts";

Deno.test("isolates: a charge-only stub made while the other isolate links the charge is merged", async () => {
  const t = await createTestApp({ file: true });
  const other = await createIsolateOf(t);
  try {
    const payments = 120;
    for (let i = 0; i < payments; i++) {
      const story = paymentStory({ customer: testId("cus") });
      await t.services.stripeEvents.apply(story.created(T0));
      const efw = earlyFraudWarningObject({ charge: story.ch, payment_intent: null, created: T0 });
      // the two isolates start together; the second one's read of the charge lands
      // at a different point of the first one's build on each payment
      const stagger = i % 12;
      await Promise.all([
        t.services.stripeEvents.apply(story.chargeSucceeded(T0 + 4)),
        (async () => {
          for (let n = 0; n < stagger; n++) await Promise.resolve();
          await other.services.stripeEvents.apply(
            stripeEvent("radar.early_fraud_warning.created", efw, T0 + 5),
          );
        })(),
      ]);
    }
    const page = await t.services.transactions.list({ limit: 200 });
    assert.equal(page.data.length, payments, "one transaction per payment");
    for (const txn of page.data) {
      assert.ok(txn.stripe_payment_intent, `${txn.id} is a stub left beside its payment`);
      assert.equal(txn.risk_signals.early_fraud_warnings.length, 1, `${txn.id} has its warning`);
    }
  } finally {
    await other.close();
    await t.close();
  }
});
