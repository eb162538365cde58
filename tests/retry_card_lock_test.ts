/**
 * Stripe's lock on a card declined too often (`card_decline_rate_limit_exceeded`)
 * is the card's, whatever the payment or customer (README "Retry policy",
 * `card_rate_limited`): once a retry meets it, the same card (fingerprint) is
 * refused on every other payment before anything is sent to Stripe, until 24 h
 * after that decline, and nothing is counted; a parallel burst sends none.
 */
import assert from "node:assert/strict";
import { getCardUses, getRetryState } from "../kv/retries.ts";
import { type FailedPayment, RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";

const LOCKED_CARD = "pm_card_chargeDeclined";
const DAY_MS = 24 * 3600_000;

/** The emulator locks a card after ten declines in 24 h: nine in checkout, on another customer. */
async function nineDeclines(w: RetryWorld): Promise<void> {
  const customer = (await w.stripe.customers.create({ email: "tries@example.com" })).id;
  for (let i = 0; i < 9; i++) {
    await w.stripe.paymentIntents.create({
      amount: 500,
      currency: "usd",
      customer,
      payment_method: LOCKED_CARD,
      confirm: true,
      off_session: true,
    }).catch(() => null);
  }
  await w.deliver();
}

function retryWith(w: RetryWorld, f: FailedPayment) {
  return w.retry({
    transaction_id: f.txnId,
    payment_method: LOCKED_CARD,
    note: "the customer asked to try this card",
    confirm_fraud_alert: true,
  });
}

/** Nothing of an attempt on `f`: no charge at Stripe past its own decline, no count. */
async function assertUntouched(w: RetryWorld, f: FailedPayment): Promise<void> {
  assert.equal((await w.charges(f.pi.id)).length, 1, "only the payment's own decline");
  assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts ?? 0, 0);
  const listed = await w.get(`${RETRIES}?transaction_id=${f.txnId}`);
  assert.deepEqual(listed.body.data, []);
}

Deno.test("card_decline_rate_limit_exceeded on one payment: the same card is refused on the customer's and others' payments, before Stripe, not counted", async () => {
  await withRetryWorld(async (w) => {
    await nineDeclines(w);
    const a = await w.failedPayment(1000, "pm_card_chargeDeclinedInsufficientFunds");
    const b = await w.failedPayment(2000, "pm_card_chargeDeclinedInsufficientFunds", a.customer);
    const c = await w.failedPayment(3000, "pm_card_chargeDeclinedInsufficientFunds", a.customer);
    const other = await w.failedPayment(4000, "pm_card_chargeDeclinedInsufficientFunds");

    const ra = await retryWith(w, a);
    assert.equal(ra.status, 201, JSON.stringify(ra.body));
    assert.equal(ra.body.decline_code, "generic_decline");
    w.clock.advance(5000);
    const rb = await retryWith(w, b);
    assert.equal(rb.status, 201, JSON.stringify(rb.body));
    assert.equal(rb.body.failure_code, "card_decline_rate_limit_exceeded");
    const fingerprint = (rb.body.card as { fingerprint: string }).fingerprint;
    const usesBefore = (await getCardUses(w.t.kv, fingerprint)).value?.uses;
    assert.equal(usesBefore?.length, 2);
    const lockedUntil = new Date(Date.parse(String(rb.body.settled_at)) + DAY_MS).toISOString();

    w.clock.advance(60_000);
    for (const f of [c, other]) {
      const refused = await retryWith(w, f);
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.equal(refused.body.code, "retry_refused");
      assert.equal(refused.body.reason, "card_rate_limited");
      assert.equal(refused.body.retry_after, lockedUntil);
      await assertUntouched(w, f);
    }
    assert.deepEqual((await getCardUses(w.t.kv, fingerprint)).value?.uses, usesBefore);
    // another card is not locked
    const visa = await w.retry({
      transaction_id: c.txnId,
      payment_method: "pm_card_visa",
      note: "another card",
      confirm_fraud_alert: true,
    });
    assert.equal(visa.status, 201, JSON.stringify(visa.body));
    assert.equal(visa.body.status, "succeeded");

    // 24 h after the decline the lock is over (Stripe is asked again)
    w.clock.advance(Date.parse(lockedUntil) - w.clock.now());
    const after = await retryWith(w, other);
    assert.equal(after.status, 201, JSON.stringify(after.body));
  }, { env: { RETRY_MAX_PER_CARD_PER_DAY: "20" } });
});

Deno.test("a parallel burst on several payments with a card Stripe locked sends none of them", async () => {
  await withRetryWorld(async (w) => {
    await nineDeclines(w);
    const a = await w.failedPayment(1000, "pm_card_chargeDeclinedInsufficientFunds");
    const b = await w.failedPayment(2000, "pm_card_chargeDeclinedInsufficientFunds");
    const burst: FailedPayment[] = [];
    for (let i = 0; i < 4; i++) {
      burst.push(await w.failedPayment(1000 + i, "pm_card_chargeDeclinedInsufficientFunds"));
    }
    await retryWith(w, a);
    // the locking decline's answer lost: the webhook settles it, and locks the card then
    w.emu.faults.inject({ method: "POST", path: /\/confirm$/, kind: "act_then_drop" });
    const rb = await retryWith(w, b);
    assert.equal(rb.body.status, "processing");
    await w.deliver();
    const settled = await w.get(`${RETRIES}/${rb.body.id}`);
    assert.equal(settled.body.failure_code, "card_decline_rate_limit_exceeded");
    assert.equal(settled.body.settled_by, "webhook");

    await w.stepUp();
    const answers = await Promise.all(burst.map((f) => retryWith(w, f)));
    for (const res of answers) {
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.reason, "card_rate_limited");
    }
    for (const f of burst) await assertUntouched(w, f);
  }, { env: { RETRY_MAX_PER_CARD_PER_DAY: "20" } });
});
