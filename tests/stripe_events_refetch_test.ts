import assert from "node:assert/strict";
import type Stripe from "stripe";
import { createTestApp } from "./helpers/app.ts";
import { withGateway } from "./helpers/stripe_gateway.ts";
import { stripeFor } from "./helpers/emulator.ts";
import { stripeEvent } from "./helpers/stripe_objects.ts";

/**
 * A decline and a retry needing 3-D Secure within one second: which came last
 * cannot be told from the events, so the applier asks Stripe.
 */
async function declineThenRetry(stripe: Stripe) {
  const customer = await stripe.customers.create({ email: "retry@example.com" });
  const created = await stripe.paymentIntents.create({
    amount: 3100,
    currency: "usd",
    customer: customer.id,
  });
  await stripe.paymentIntents.confirm(created.id, { payment_method: "pm_card_chargeDeclined" })
    .then(
      () => assert.fail("the test card declines"),
      (e) => assert.equal(e.type, "StripeCardError"),
    );
  const declined = await stripe.paymentIntents.retrieve(created.id);
  const retried = await stripe.paymentIntents.confirm(created.id, {
    payment_method: "pm_card_authenticationRequired",
  });
  assert.equal(declined.status, "requires_payment_method");
  assert.equal(retried.status, "requires_action");
  return { declined, retried };
}

for (const order of ["decline first", "retry first"] as const) {
  Deno.test(`same-second decline and retry are settled by reading the PaymentIntent (${order})`, async () => {
    await withGateway(async ({ emu, gateway }) => {
      const t = await createTestApp({ stripe: gateway });
      try {
        const { declined, retried } = await declineThenRetry(stripeFor(emu));
        const second = declined.created + 5;
        const failedEvent = stripeEvent("payment_intent.payment_failed", declined, second);
        const actionEvent = stripeEvent("payment_intent.requires_action", retried, second);
        const events = order === "decline first"
          ? [failedEvent, actionEvent]
          : [actionEvent, failedEvent];
        for (const e of events) await t.services.stripeEvents.apply(e);
        const txn = await t.services.transactions.get(declined.id);
        assert.equal(txn.status, "requires_action");
      } finally {
        await t.close();
      }
    });
  });
}
