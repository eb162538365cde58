/**
 * A retry attempt in flight (its confirm's answer lost or held, or waiting on
 * 3-D Secure) while the same PaymentIntent is paid at Stripe with another
 * payment method (the customer at the merchant's checkout). README "Retrying
 * failed payments", Outcomes: the attempt is settled `succeeded` only when the
 * payment was made with its own payment method; otherwise it closes `failed`
 * `superseded`, uncounted, its card's `last_used` left as it was, while the
 * transaction and the ledger show the other card's payment once.
 */
import assert from "node:assert/strict";
import { getPaymentMethodsLastUsed, getRetryState } from "../kv/retries.ts";
import { RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { assertMoneyMatchesStripe } from "./helpers/faults.ts";

const CONFIRM = /\/confirm$/;

async function settles(w: RetryWorld, id: string) {
  const all = (await w.t.services.audit.list({ limit: 100, action: "retry.settle" })).data;
  return all.filter((e) => e.target?.id === id);
}

function assertSuperseded(attempt: Record<string, unknown>, paidWith: string) {
  assert.equal(attempt.status, "failed", JSON.stringify(attempt));
  assert.equal(attempt.failure_code, "superseded");
  assert.equal(attempt.stripe_status, "succeeded");
  assert.equal(attempt.decline_code, null);
  assert.equal(attempt.advice_code, null);
  assert.notEqual(attempt.stripe_charge, paidWith, "the other card's charge is not this attempt's");
  assert.doesNotMatch(String(attempt.next_step), /another card/);
  assert.match(String(attempt.next_step), /does not count/);
}

Deno.test("a retry waiting on 3-D Secure while the customer pays with another card closes superseded, not succeeded", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const res = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_authenticationRequired",
      off_session: false,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, "requires_action");
    const x = String(res.body.payment_method);
    const triedAt = (await getPaymentMethodsLastUsed(w.t.kv, [x])).get(x);
    assert.ok(triedAt, "sent for authentication: tried");

    w.clock.advance(5000);
    // the customer pays at the merchant's checkout with another card instead
    const paid = await w.stripe.paymentIntents.confirm(f.pi.id, { payment_method: "pm_card_visa" });
    assert.equal(paid.status, "succeeded");
    assert.notEqual(paid.payment_method, x);
    await w.deliver();

    const attempt = (await w.get(`${RETRIES}/${res.body.id}`)).body;
    assertSuperseded(attempt, String(paid.latest_charge));
    assert.equal(attempt.settled_by, "webhook");
    assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts, 0, "not counted");
    assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.in_flight, null);
    assert.equal((await getPaymentMethodsLastUsed(w.t.kv, [x])).get(x), triedAt);
    const audit = await settles(w, String(res.body.id));
    assert.equal(audit.length, 2, "requires_action, then superseded");
    assert.equal((audit[0].after as { counted?: boolean }).counted, false);

    assert.equal((await w.t.services.transactions.get(f.txnId)).status, "succeeded");
    await assertMoneyMatchesStripe(w, f.pi.id, f.customer, f.txnId);
  });
});

Deno.test("a retry whose confirm is held while the customer pays with another card closes superseded; the late confirm changes nothing", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const held = w.emu.faults.inject({
      method: "POST",
      path: CONFIRM,
      kind: "latency",
      ms: Infinity,
    });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_mastercard" });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const x = String(res.body.payment_method);

    const paid = await w.stripe.paymentIntents.confirm(f.pi.id, {
      payment_method: "pm_card_visa",
      off_session: true,
    });
    assert.equal(paid.status, "succeeded");
    await w.deliver();

    let attempt = (await w.get(`${RETRIES}/${res.body.id}`)).body;
    assertSuperseded(attempt, String(paid.latest_charge));
    assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts, 0, "not counted");
    assert.equal((await getPaymentMethodsLastUsed(w.t.kv, [x])).get(x), undefined, "never tried");

    // the held confirm lands now: Stripe refuses it (the payment is paid); nothing more moves
    await held.release();
    await w.emu.deliveries();
    await w.deliver();
    w.clock.advance(61_000);
    const later = await w.t.services.retries.reconcile();
    assert.equal(later.settled + later.not_received + later.unknown, 0);
    attempt = (await w.get(`${RETRIES}/${res.body.id}`)).body;
    assert.equal(attempt.failure_code, "superseded");
    assert.equal((await settles(w, String(res.body.id))).length, 1);
    const charges = await w.charges(f.pi.id);
    assert.equal(charges.filter((c) => c.status === "succeeded").length, 1, "paid once, by visa");
    assert.equal((await w.t.services.transactions.get(f.txnId)).status, "succeeded");
    await assertMoneyMatchesStripe(w, f.pi.id, f.customer, f.txnId);
  }, { timeoutMs: 400 });
});

Deno.test("a retry whose answer was lost, found paid with another card by reconciliation, closes superseded", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const held = w.emu.faults.inject({
      method: "POST",
      path: CONFIRM,
      kind: "latency",
      ms: Infinity,
    });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_mastercard" });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const paid = await w.stripe.paymentIntents.confirm(f.pi.id, {
      payment_method: "pm_card_visa",
      off_session: true,
    });
    await held.release();
    await w.emu.deliveries();
    await w.dropHeld(); // no webhook ever arrives: reconciliation alone finds it out
    w.clock.advance(61_000);
    const run = await w.t.services.retries.reconcile();
    assert.equal(run.settled, 1);
    const attempt = (await w.get(`${RETRIES}/${res.body.id}`)).body;
    assertSuperseded(attempt, String(paid.latest_charge));
    assert.equal(attempt.settled_by, "reconcile");
    assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts, 0, "not counted");
    assert.equal((await w.t.services.transactions.get(f.txnId)).status, "succeeded");
    await assertMoneyMatchesStripe(w, f.pi.id, f.customer, f.txnId);
  }, { timeoutMs: 400 });
});

Deno.test("a retry declined with its card, then the payment paid with another: the decline stays the attempt's", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    w.emu.faults.inject({ method: "POST", path: CONFIRM, kind: "act_then_drop" });
    const res = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const x = String(res.body.payment_method);
    await w.stripe.paymentIntents.confirm(f.pi.id, {
      payment_method: "pm_card_visa",
      off_session: true,
    });
    await w.deliver();
    const attempt = (await w.get(`${RETRIES}/${res.body.id}`)).body;
    assert.equal(attempt.status, "failed");
    assert.equal(attempt.decline_code, "insufficient_funds");
    assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts, 1, "a decline counts");
    assert.ok((await getPaymentMethodsLastUsed(w.t.kv, [x])).get(x), "tried");
    assert.equal((await w.t.services.transactions.get(f.txnId)).status, "succeeded");
    await assertMoneyMatchesStripe(w, f.pi.id, f.customer, f.txnId);
  });
});
