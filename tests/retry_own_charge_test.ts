/**
 * An attempt's `stripe_charge` is only a charge this attempt made (README
 * "Retrying failed payments", Outcomes): a 3-D Secure wait or failure makes
 * none, a superseded attempt charged nothing, and the PaymentIntent's earlier
 * charge (the checkout's decline, an earlier attempt's) is never named. A paid
 * or declined attempt carries its own charge, made with its payment method.
 */
import assert from "node:assert/strict";
import { RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { RETRY_WAITING_CHECK_AFTER_MS } from "../services/retries/reconcile.ts";
import { settledRecord } from "../services/retries/settlement.ts";
import type { RetryRecord } from "../kv/retries.ts";

async function settleCharges(w: RetryWorld, id: string): Promise<unknown[]> {
  const all = (await w.t.services.audit.list({ limit: 100, action: "retry.settle" })).data;
  return all.filter((e) => e.target?.id === id).map((e) =>
    (e.after as { stripe_charge?: unknown }).stripe_charge
  );
}

async function attempt(w: RetryWorld, id: unknown) {
  return (await w.get(`${RETRIES}/${id}`)).body;
}

async function threeDs(w: RetryWorld, txnId: string) {
  const res = await w.retry({
    transaction_id: txnId,
    payment_method: "pm_card_authenticationRequired",
    note: "3ds",
    off_session: false,
    confirm_fraud_alert: true,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.status, "requires_action");
  assert.equal(res.body.stripe_charge, null, "a 3-D Secure wait makes no charge");
  return res.body;
}

Deno.test("a retry whose 3-D Secure fails names no charge: not the checkout's decline", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedProcessingError");
    const checkout = f.pi.latest_charge;
    assert.ok(checkout);
    const r = await threeDs(w, f.txnId);

    w.emu.authenticate(f.pi.id, "fail");
    await w.deliver();
    const failed = await attempt(w, r.id);
    assert.equal(failed.status, "failed");
    assert.equal(failed.failure_code, "payment_intent_authentication_failure");
    assert.equal(failed.stripe_charge, null, JSON.stringify(failed));
    assert.deepEqual(await settleCharges(w, String(r.id)), [null, null]);
    // Stripe shows the checkout's decline only
    assert.deepEqual((await w.charges(f.pi.id)).map((c) => c.id), [checkout]);
  });
});

Deno.test("a retry whose 3-D Secure failure reconciliation finds names no charge", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedProcessingError");
    const r = await threeDs(w, f.txnId);
    w.emu.authenticate(f.pi.id, "fail");
    // the webhook is lost: reconciliation reads the PaymentIntent
    await w.dropHeld();
    w.clock.advance(RETRY_WAITING_CHECK_AFTER_MS + 1000);
    await w.t.services.retries.reconcile();
    const failed = await attempt(w, r.id);
    assert.equal(failed.status, "failed", JSON.stringify(failed));
    assert.equal(failed.settled_by, "reconcile");
    assert.equal(failed.stripe_charge, null, JSON.stringify(failed));
    assert.deepEqual(await settleCharges(w, String(r.id)), [null, null]);
  });
});

Deno.test("a retry waiting on 3-D Secure, superseded by the customer's other card, names no charge: not the earlier attempt's decline", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    // an earlier attempt, declined on its own card: its own charge
    const first = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.status, "failed");
    const declined = String(first.body.stripe_charge);
    assert.notEqual(declined, String(f.pi.latest_charge));
    const ch = await w.stripe.charges.retrieve(declined);
    assert.equal(ch.status, "failed");
    assert.equal(ch.payment_method, first.body.payment_method, "made with the attempt's card");
    assert.deepEqual(await settleCharges(w, String(first.body.id)), [declined]);
    w.clock.advance(2000);

    const r = await threeDs(w, f.txnId);
    w.clock.advance(5000);
    const paid = await w.stripe.paymentIntents.confirm(f.pi.id, { payment_method: "pm_card_visa" });
    assert.equal(paid.status, "succeeded");
    await w.deliver();
    const closed = await attempt(w, r.id);
    assert.equal(closed.failure_code, "superseded", JSON.stringify(closed));
    assert.equal(closed.stripe_charge, null, JSON.stringify(closed));
    assert.deepEqual(await settleCharges(w, String(r.id)), [null, null]);
  });
});

Deno.test("a paid retry carries its own charge, made with its payment method", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, "succeeded");
    const pi = await w.stripe.paymentIntents.retrieve(f.pi.id);
    assert.equal(res.body.stripe_charge, pi.latest_charge);
    assert.notEqual(res.body.stripe_charge, f.pi.latest_charge);
    const ch = await w.stripe.charges.retrieve(String(res.body.stripe_charge));
    assert.equal(ch.payment_method, res.body.payment_method);
    await w.deliver();
    assert.equal((await attempt(w, res.body.id)).stripe_charge, pi.latest_charge);
  });
});

Deno.test("a 3-D Secure attempt that succeeds carries the charge its authentication made", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const r = await threeDs(w, f.txnId);
    w.emu.authenticate(f.pi.id, "succeed");
    await w.deliver();
    const paid = await attempt(w, r.id);
    assert.equal(paid.status, "succeeded");
    const pi = await w.stripe.paymentIntents.retrieve(f.pi.id);
    assert.equal(paid.stripe_charge, pi.latest_charge);
    assert.notEqual(paid.stripe_charge, f.pi.latest_charge);
  });
});

Deno.test("settling an attempt recorded with the PaymentIntent's earlier charge drops it", () => {
  const before = {
    status: "requires_action",
    stripe_charge: "ch_checkout",
    prior: { latest_charge: "ch_checkout", error_charge: "ch_checkout" },
    payment_method: "pm_x",
  } as unknown as RetryRecord;
  const after = settledRecord(
    before,
    {
      status: "failed",
      stripe_status: "requires_payment_method",
      failure_code: "payment_intent_authentication_failure",
      stripe_charge: null,
    },
    "2025-01-01T00:00:00.000Z",
    "webhook",
  );
  assert.equal(after.stripe_charge, null);
});
