/**
 * A retry of a payment that already moved at Stripe while the service's view
 * lags (its webhooks not delivered yet): paid with another card, or canceled.
 * README "Retrying failed payments", Which payments: only a PaymentIntent in
 * `requires_payment_method` is retried, any other status is 409 naming it,
 * as Stripe has it now, and the transaction is read from Stripe; nothing is
 * saved on the customer and nothing counts toward the caps.
 */
import assert from "node:assert/strict";
import { getRetryState } from "../kv/retries.ts";
import { RETRIES, withRetryWorld } from "./helpers/retries.ts";
import { assertMoneyMatchesStripe } from "./helpers/faults.ts";

Deno.test("POST /retries: a payment paid at Stripe meanwhile (webhooks held) is 409 succeeded, read from Stripe, no card saved", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    // paid at Stripe with another card; its webhooks are held, the service still sees it failed
    const paid = await w.stripe.paymentIntents.confirm(f.pi.id, {
      payment_method: "pm_card_visa",
      off_session: true,
    });
    assert.equal(paid.status, "succeeded");
    assert.equal((await w.t.services.transactions.get(f.txnId)).status, "failed");

    const body = { transaction_id: f.pi.id, payment_method: "pm_card_mastercard", note: "t" };
    for (let i = 0; i < 3; i++) {
      const res = await w.retry(body);
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.code, "conflict");
      assert.equal(res.body.payment_intent_status, "succeeded");
      assert.match(String(res.body.detail), /succeeded/);
      assert.doesNotMatch(String(res.body.detail), /another card/);
    }
    const txn = await w.t.services.transactions.get(f.txnId);
    assert.equal(txn.status, "succeeded", "the transaction is read from Stripe");
    await assertMoneyMatchesStripe(w, f.pi.id, f.customer, f.txnId);
    const saved = await w.stripe.paymentMethods.list({ customer: f.customer, type: "card" });
    assert.equal(saved.data.length, 0, "nothing saved on the customer");
    assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts ?? 0, 0, "not counted");
    // the late webhooks change nothing more
    await w.deliver();
    await assertMoneyMatchesStripe(w, f.pi.id, f.customer, f.txnId);
  });
});

Deno.test("POST /retries: a confirm Stripe refuses because the payment was canceled meanwhile is 409 canceled, the attempt closed uncounted", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    // a card saved on the customer already: nothing to attach, so the confirm finds it out
    const card = await w.stripe.paymentMethods.attach("pm_card_mastercard", {
      customer: f.customer,
    });
    await w.stripe.paymentIntents.cancel(f.pi.id);
    assert.equal((await w.t.services.transactions.get(f.txnId)).status, "failed");

    const body = { transaction_id: f.txnId, payment_method: card.id, note: "t" };
    const res = await w.retry(body, { idempotencyKey: "moved-1" });
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(res.body.code, "conflict");
    assert.equal(res.body.payment_intent_status, "canceled");
    assert.match(String(res.body.detail), /canceled/);
    const id = String(res.body.retry_id);
    assert.match(id, /^rty_/);

    const attempt = await w.get(`${RETRIES}/${id}`);
    assert.equal(attempt.body.status, "failed");
    assert.equal(attempt.body.failure_code, "payment_intent_unexpected_state");
    assert.equal(attempt.body.stripe_status, "canceled");
    assert.doesNotMatch(String(attempt.body.next_step), /another card/);
    assert.match(String(attempt.body.next_step), /does not count/);
    assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts ?? 0, 0, "not counted");
    const settles = (await w.t.services.audit.list({ limit: 50, action: "retry.settle" })).data;
    const settle = settles.find((e) => e.target?.id === id);
    assert.equal((settle?.after as { counted?: boolean }).counted, false);

    assert.equal((await w.t.services.transactions.get(f.txnId)).status, "canceled");
    // the same key answers the same; a new request is the plain 409, nothing recorded
    const replay = await w.retry(body, { idempotencyKey: "moved-1" });
    assert.equal(replay.status, 409);
    assert.equal(replay.body.retry_id, id);
    const again = await w.retry(body);
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.equal(again.body.payment_intent_status, "canceled");
    const list = await w.get(`${RETRIES}?transaction_id=${f.txnId}`);
    assert.equal((list.body.data as unknown[]).length, 1);
    await assertMoneyMatchesStripe(w, f.pi.id, f.customer, f.txnId);
  });
});
