/**
 * A retry right after a decline, while the PaymentIntent's own update is
 * still on its way from Stripe (its charge.failed applied, its
 * payment_intent.payment_failed not yet): the 409 says so and when to try
 * again, instead of naming a state the operator does not see.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { RETRIES, withRetryWorld } from "./helpers/retries.ts";
import { jsonRequest } from "./helpers/identity.ts";

Deno.test("a retry while the decline is still arriving from Stripe is 409 'retry in a moment', with Retry-After", async () => {
  await withRetryWorld(async (w) => {
    const customer = (await w.stripe.customers.create({ email: "soon@example.com" })).id;
    const pi = await w.stripe.paymentIntents.create({
      amount: 2500,
      currency: "usd",
      customer,
      payment_method: "pm_card_chargeDeclined",
      confirm: true,
      off_session: true,
    }).then(
      () => assert.fail("the test card declines"),
      (e) => (e as { raw: { payment_intent: Stripe.PaymentIntent } }).raw.payment_intent,
    );
    await w.deliver((held) => held.filter((h) => h.type !== "payment_intent.payment_failed"));
    const txn = await w.t.services.transactions.get(pi.id);

    const headers = await w.stepUp();
    const body = { transaction_id: txn.id, payment_method: "pm_card_visa" };
    const res = await w.t.app.request(RETRIES, jsonRequest("POST", headers, body));
    const problem = await res.json();
    assert.equal(res.status, 409, JSON.stringify(problem));
    assert.match(problem.detail, /still arriving from Stripe/);
    assert.match(problem.detail, /retry in a moment/);
    assert.ok(Number(res.headers.get("retry-after")) >= 1);

    await w.deliver();
    const ok = await w.retry(body);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.status, "succeeded");
  });
});
