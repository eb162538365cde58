/**
 * The write routes take a payment as operators find it: our txn_ id or the
 * PaymentIntent / Charge id Stripe shows (as GET /transactions/{id} does).
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";

const API = "/api/admin/payments";

Deno.test("refunds, retries and captures accept the pi_ or ch_ id of the payment", async () => {
  await withRetryWorld(async (w) => {
    const send = async (path: string, body: unknown) => {
      const res = await w.t.app.request(
        `${API}${path}`,
        jsonRequest("POST", await w.stepUp(), body),
      );
      return { status: res.status, body: await res.json() };
    };
    const paid = await w.pay(4000);
    const charge = (await w.t.services.transactions.get(paid.txnId)).stripe_charge!;
    const refund = await send("/refunds", {
      transaction_id: charge,
      amount: 1000,
      reason: "requested_by_customer",
      note: "by the charge id",
    });
    assert.equal(refund.status, 201, JSON.stringify(refund.body));
    assert.equal(refund.body.transaction_id, paid.txnId);

    const failed = await w.failedPayment(3000, "pm_card_chargeDeclined");
    const retry = await send("/retries", {
      transaction_id: failed.pi.id,
      payment_method: "pm_card_visa",
    });
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.equal(retry.body.transaction_id, failed.txnId);

    const auth = await authorizeAtStripe(w.stripe, 5000, "hold@example.com");
    await w.deliver();
    const capture = await send(`/transactions/${auth.pi.id}/capture`, { amount_to_capture: 2000 });
    assert.equal(capture.status, 201, JSON.stringify(capture.body));

    const unknown = await send("/refunds", {
      transaction_id: "pi_doesnotexist",
      reason: "requested_by_customer",
      note: "x",
    });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.detail, /pi_doesnotexist/);
  });
});

Deno.test("the refund and retry lists filter by the pi_ or ch_ id of the payment too", async () => {
  await withRetryWorld(async (w) => {
    const paid = await w.pay(4000);
    const charge = (await w.t.services.transactions.get(paid.txnId)).stripe_charge!;
    await w.t.services.refunds.create(w.ctx(w.operator), {
      transaction_id: paid.txnId,
      amount: 500,
      reason: "requested_by_customer",
      note: "part",
    });
    for (const id of [paid.txnId, paid.pi.id, charge]) {
      const res = await w.get(`${API}/refunds?transaction_id=${id}`);
      assert.equal(res.status, 200);
      assert.equal((res.body.data as unknown[]).length, 1, id);
    }
    const failed = await w.failedPayment(3000, "pm_card_chargeDeclined");
    await w.retry({ transaction_id: failed.txnId, payment_method: "pm_card_visa" });
    const retries = await w.get(`${API}/retries?transaction_id=${failed.pi.id}`);
    assert.equal((retries.body.data as unknown[]).length, 1);
  });
});
