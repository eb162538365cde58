/**
 * Stripe refuses a capture or cancel because the payment already moved
 * (captured elsewhere, canceled, lapsed): a 409 naming what Stripe says the
 * PaymentIntent is now, and the transaction follows Stripe (README
 * "Retrying failed payments", Authorizations).
 */
import assert from "node:assert/strict";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";

const TXNS = "/api/admin/payments/transactions";

async function authorize(w: RetryWorld, amount: number) {
  const { pi } = await authorizeAtStripe(w.stripe, amount, "moved@example.com");
  await w.deliver();
  return { pi, txnId: (await w.t.services.transactions.get(pi.id)).id };
}

async function post(w: RetryWorld, path: string, body: unknown) {
  const res = await w.t.app.request(path, jsonRequest("POST", await w.stepUp(), body));
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

Deno.test("a capture Stripe refuses because the payment was captured elsewhere is 409 and the transaction follows", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorize(w, 3000);
    await w.stripe.paymentIntents.capture(a.pi.id); // in the Dashboard; its webhooks are lost
    await w.dropHeld();
    assert.equal((await w.t.services.transactions.get(a.txnId)).status, "requires_capture");
    const res = await post(w, `${TXNS}/${a.txnId}/cancel`, { reason: "abandoned", note: "late" });
    assert.equal(res.status, 409);
    assert.equal(res.body.payment_intent_status, "succeeded");
    assert.match(String(res.body.detail), /already succeeded at Stripe/);
    assert.equal(res.body.action_status, "failed");
    const txn = await w.t.services.transactions.get(a.txnId);
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.amount_captured, 3000);
  });
});

Deno.test("a capture of an authorization canceled (lapsed) at Stripe is 409 naming canceled; the transaction follows", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorize(w, 2000);
    await w.stripe.paymentIntents.cancel(a.pi.id);
    await w.dropHeld();
    const res = await post(w, `${TXNS}/${a.txnId}/capture`, {});
    assert.equal(res.status, 409);
    assert.equal(res.body.payment_intent_status, "canceled");
    assert.match(String(res.body.detail), /canceled/);
    assert.equal((await w.t.services.transactions.get(a.txnId)).status, "canceled");
  });
});
