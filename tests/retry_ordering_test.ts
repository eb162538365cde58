/**
 * The retry's own snapshot of the PaymentIntent (Stripe's answer to the
 * confirm, or a read by reconciliation) against the webhooks that follow it
 * (README "Transactions and money edges": snapshots are ordered by Stripe's
 * time, then the status lattice): a 3-D Secure failure that is genuinely
 * later always wins, in the same second as the answer and whatever the
 * service's clock says; and an attempt whose news never arrives is read from
 * Stripe by reconciliation instead of waiting forever.
 */
import assert from "node:assert/strict";
import { RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";

/** A payment declined at Stripe and known to the app, with no time passing (the same second). */
async function declinedNow(w: RetryWorld) {
  const customer = (await w.stripe.customers.create({ email: "sca@example.com" })).id;
  const f = await w.failedPayment(4200, "pm_card_chargeDeclinedInsufficientFunds", customer, {
    sameSecond: true,
  });
  const txn = await w.t.services.transactions.get(f.pi.id);
  assert.equal(txn.status, "failed");
  return { pi: f.pi, txnId: txn.id, customer };
}

/** POST /retries with a card that needs 3-D Secure, on session: `requires_action`. */
async function retryNeedingAction(w: RetryWorld, txnId: string) {
  const res = await w.retry({
    transaction_id: txnId,
    payment_method: "pm_card_authenticationRequired",
    off_session: false,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.status, "requires_action");
  return res.body.id as string;
}

/** The attempt failed, the payment shows it, and another card may be tried at once. */
async function assertFailedAndFree(w: RetryWorld, id: string, txnId: string, by: string) {
  const r = await w.get(`${RETRIES}/${id}`);
  assert.equal(r.body.status, "failed", JSON.stringify(r.body));
  assert.equal(r.body.failure_code, "payment_intent_authentication_failure");
  assert.equal(r.body.settled_by, by);
  assert.equal((await w.t.services.transactions.get(txnId)).status, "failed");
  const next = await w.retry({ transaction_id: txnId, payment_method: "pm_card_visa" });
  assert.equal(next.status, 201, JSON.stringify(next.body));
  assert.equal(next.body.status, "succeeded");
}

Deno.test("a 3-D Secure failure in the same second as the retry's answer fails the retry", async () => {
  await withRetryWorld(async (w) => {
    // decline, retry, answer and the customer's failed authentication: all in one second
    const f = await declinedNow(w);
    const id = await retryNeedingAction(w, f.txnId);
    await w.deliver();
    w.emu.authenticate(f.pi.id, "fail");
    await w.deliver();
    const events = await w.get("/api/admin/payments/webhook-events?limit=100", w.admin);
    const failed = (events.body.data as { type: string; status: string }[])
      .filter((e) => e.type === "payment_intent.payment_failed");
    assert.ok(failed.every((e) => e.status !== "ignored"), JSON.stringify(failed));
    await assertFailedAndFree(w, id, f.txnId, "webhook");
  });
});

Deno.test("the retry's answer is placed at Stripe's time, not the service's clock (5 s ahead)", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(4200, "pm_card_chargeDeclinedInsufficientFunds");
    const id = await retryNeedingAction(w, f.txnId);
    await w.deliver();
    w.clock.advance(1000); // the customer fails 3-D Secure a second later, by Stripe's clock
    w.emu.authenticate(f.pi.id, "fail");
    await w.deliver();
    await assertFailedAndFree(w, id, f.txnId, "webhook");
  }, { stripeClockSkewMs: -5000 });
});

Deno.test("reconciliation reads a requires_action attempt whose news never came, and settles it", async () => {
  await withRetryWorld(async (w) => {
    const f = await declinedNow(w);
    const id = await retryNeedingAction(w, f.txnId);
    await w.deliver();
    const reads = () => w.emu.requests.total();

    // The customer is still authenticating: a young attempt is left alone, an older one is
    // read from Stripe and found still waiting.
    w.clock.advance(61_000);
    let before = reads();
    let summary = await w.t.services.retries.reconcile();
    assert.equal(summary.waiting, 0);
    assert.equal(reads(), before, "no Stripe read for an attempt a minute old");
    w.clock.advance(15 * 60_000);
    summary = await w.t.services.retries.reconcile();
    assert.deepEqual([summary.settled, summary.waiting], [0, 1]);
    assert.equal((await w.get(`${RETRIES}/${id}`)).body.status, "requires_action");
    // read again only after a longer wait (each wait doubles)
    w.clock.advance(5 * 60_000);
    before = reads();
    summary = await w.t.services.retries.reconcile();
    assert.equal(summary.waiting, 0);
    assert.equal(reads(), before, "not read again five minutes later");

    // The customer fails 3-D Secure and Stripe's webhooks are lost.
    w.emu.authenticate(f.pi.id, "fail");
    await w.dropHeld();
    w.clock.advance(30 * 60_000);
    summary = await w.t.services.retries.reconcile();
    assert.equal(summary.settled, 1);
    await assertFailedAndFree(w, id, f.txnId, "reconcile");
  });
});
