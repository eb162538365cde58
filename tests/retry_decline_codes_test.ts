/**
 * What a blocked charge's decline is (README "Retry policy": a fraud decline
 * is refused with any card): Stripe's lock on a card declined too often
 * (`card_decline_rate_limit_exceeded`) is not the issuer's fraud decline, and
 * shows and counts as what Stripe said; a Radar block still reads fraudulent.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";

/** Declines a payment of `customer` with `pm` at Stripe; the app learns of it by webhook. */
async function decline(w: RetryWorld, customer: string, pm: string) {
  const pi = await w.stripe.paymentIntents.create({
    amount: 500,
    currency: "usd",
    customer,
    payment_method: pm,
    confirm: true,
    off_session: true,
  }).then(
    () => assert.fail(`${pm} declines`),
    (e) => (e as { raw: { payment_intent: Stripe.PaymentIntent } }).raw.payment_intent,
  );
  await w.deliver();
  return await w.t.services.transactions.get(pi.id);
}

async function declinesOf(w: RetryWorld, customer: string) {
  const res = await w.get(`/api/admin/payments/customers/${customer}`);
  const agg = res.body.aggregates as { last_24h: { declines: Record<string, number> } };
  return agg.last_24h.declines;
}

Deno.test("a card Stripe locked after too many declines is not shown or counted as a fraud decline", async () => {
  await withRetryWorld(async (w) => {
    const other = (await w.stripe.customers.create({ email: "many@example.com" })).id;
    for (let i = 0; i < 10; i++) await decline(w, other, "pm_card_chargeDeclined");
    const customer = (await w.stripe.customers.create({ email: "locked@example.com" })).id;
    const txn = await decline(w, customer, "pm_card_chargeDeclined");
    assert.equal(txn.failure_code, "card_decline_rate_limit_exceeded");
    assert.equal(txn.decline_code, null, "Stripe gave no decline code: not fraudulent");
    assert.notEqual(txn.risk_level, "highest", "Stripe's lock is no Radar risk verdict");
    const declines = await declinesOf(w, customer);
    assert.equal(declines.fraudulent, undefined, JSON.stringify(declines));
    assert.equal(declines.card_decline_rate_limit_exceeded, 1);

    const blocked = (await w.stripe.customers.create({ email: "radar@example.com" })).id;
    const radar = await decline(w, blocked, "pm_card_radarBlock");
    assert.equal(radar.decline_code, "fraudulent", "Radar's block is Stripe's fraud decline");
    assert.equal((await declinesOf(w, blocked)).fraudulent, 1);
  });
});
