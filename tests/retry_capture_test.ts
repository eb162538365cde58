/**
 * A retry of a manual-capture payment only authorizes it (README "Retrying
 * failed payments", Authorizations): the attempt says `requires_capture`
 * until the authorization is captured (`succeeded`) or released
 * (`canceled`, nothing charged), as the transaction does.
 */
import assert from "node:assert/strict";
import { allLedgerEntries } from "../kv/customers.ts";
import { RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";

/** A manual-capture payment declined at Stripe, then retried with a good card: authorized. */
async function authorizedByRetry(w: RetryWorld) {
  const customer = (await w.stripe.customers.create({ email: "hold@example.com" })).id;
  const { pi, txnId } = await w.failedPayment(3000, "pm_card_chargeDeclined", customer, {
    captureMethod: "manual",
  });
  const res = await w.retry({
    transaction_id: txnId,
    payment_method: "pm_card_mastercard_prepaid",
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await w.deliver();
  return { pi, txnId, customer, id: String(res.body.id), answer: res.body };
}

async function charged(w: RetryWorld, customer: string) {
  return (await allLedgerEntries(w.t.kv, customer)).filter((e) => e.type === "payment")
    .reduce((n, e) => n + e.amount, 0);
}

Deno.test("a retry that only authorizes says requires_capture, then canceled when released", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorizedByRetry(w);
    assert.equal(a.answer.status, "requires_capture");
    assert.equal(a.answer.stripe_status, "requires_capture");
    assert.match(String(a.answer.next_step), /capture/);
    assert.match(
      String(a.answer.next_step),
      new RegExp(`POST /api/admin/payments/transactions/${a.answer.transaction_id}/capture`),
    );
    assert.equal((await w.t.services.transactions.get(a.txnId)).status, "requires_capture");
    assert.equal(await charged(w, a.customer), 0);

    await w.t.services.retries.cancel(w.ctx(w.operator), a.txnId, {
      reason: "requested_by_customer",
      note: "the customer no longer wants the order",
    });
    await w.deliver();
    const r = await w.get(`${RETRIES}/${a.id}`);
    assert.equal(r.body.status, "canceled", JSON.stringify(r.body));
    assert.equal(r.body.stripe_status, "canceled");
    assert.match(String(r.body.failure_message), /nothing was charged/);
    assert.ok(r.body.settled_at);
    assert.equal((await w.t.services.transactions.get(a.txnId)).status, "canceled");
    assert.equal(await charged(w, a.customer), 0);
    const list = await w.get(`${RETRIES}?status=canceled`);
    assert.deepEqual((list.body.data as { id: string }[]).map((x) => x.id), [a.id]);
  });
});

Deno.test("a retry that only authorizes succeeds once the authorization is captured", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorizedByRetry(w);
    await w.t.services.retries.capture(w.ctx(w.operator), a.txnId, {});
    await w.deliver();
    const r = await w.get(`${RETRIES}/${a.id}`);
    assert.equal(r.body.status, "succeeded", JSON.stringify(r.body));
    assert.equal(r.body.stripe_status, "succeeded");
    assert.equal((await w.t.services.transactions.get(a.txnId)).status, "succeeded");
    assert.equal(await charged(w, a.customer), 3000);
  });
});
