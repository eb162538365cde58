/**
 * What a refused refund says: one message per problem, naming only a field
 * that was sent, and pointing to what to do instead.
 */
import assert from "node:assert/strict";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { approvalOf, askRefund, authorizeAtStripe, withRefundWorld } from "./helpers/refunds.ts";
import type { RefundWorld } from "./helpers/refunds.ts";

const P = "/api/admin/payments";

async function post(w: RefundWorld, body: Record<string, unknown>) {
  const res = await w.t.app.request(
    `${P}/refunds`,
    jsonRequest("POST", otpHeaders(w.t, w.operator), {
      reason: "requested_by_customer",
      note: "n",
      ...body,
    }),
  );
  return { status: res.status, body: await res.json() };
}

Deno.test("an amount too large to be one says so once; a fraction says no fractions once", async () => {
  await withRefundWorld(async (w) => {
    const huge = await post(w, { transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", amount: 1e20 });
    assert.equal(huge.status, 422);
    assert.equal(huge.body.errors.length, 1, JSON.stringify(huge.body.errors));
    assert.equal(huge.body.errors[0].path, "body.amount");
    assert.doesNotMatch(huge.body.errors[0].message, /fraction/);
    assert.match(huge.body.errors[0].message, /at most 9007199254740991/);
    const fraction = await post(w, {
      transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
      amount: 12.5,
    });
    assert.equal(fraction.status, 422);
    assert.deepEqual(fraction.body.errors, [{
      path: "body.amount",
      message: "amount must be a whole number of minor units (no fractions)",
    }]);
  });
});

Deno.test("nothing left to refund names body.amount only when an amount was sent", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(3000);
    await askRefund(w, pay.txnId, 3000, "all of it");
    const omitted = await post(w, { transaction_id: pay.txnId });
    assert.equal(omitted.status, 422);
    assert.equal(omitted.body.code, "amount_exceeds_refundable");
    assert.match(omitted.body.detail, /nothing is left to refund/);
    assert.equal(omitted.body.errors, undefined);
    const sent = await post(w, { transaction_id: pay.txnId, amount: 10 });
    assert.equal(sent.status, 422);
    assert.equal(sent.body.errors[0].path, "body.amount");
  });
});

Deno.test("an approval the payment can no longer carry does not blame body.amount (none was sent)", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txnId } = await w.pay(90_000);
    const asked = await askRefund(w, txnId, 60_000, "order returned");
    await w.stripe.refunds.create({ payment_intent: pi.id, amount: 50_000 });
    await w.deliver();
    const res = await w.t.app.request(
      `${P}/refunds/${asked.refund.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), await approvalOf(w.t, asked.refund.id)),
    );
    assert.equal(res.status, 422);
    const problem = await res.json();
    assert.equal(problem.code, "amount_exceeds_refundable");
    assert.equal(problem.errors, undefined);
    assert.match(problem.detail, /amount 60000 \(600.00 USD\) exceeds what is refundable/);
  });
});

Deno.test("an unknown payment is a 404 on body.transaction_id; spaces around the id are trimmed", async () => {
  await withRefundWorld(async (w) => {
    for (const id of ["pi_nope", "ch_nope", "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R"]) {
      const missing = await post(w, { transaction_id: id, amount: 10 });
      assert.equal(missing.status, 404, id);
      assert.equal(missing.body.errors?.[0]?.path, "body.transaction_id", id);
      assert.match(missing.body.errors[0].message, /no payment/);
    }
    const pay = await w.pay(3000);
    for (const id of [` ${pay.txnId} `, `\t${pay.pi.id} `]) {
      const padded = await post(w, { transaction_id: id, amount: 10 + id.length });
      assert.equal(padded.status, 201, JSON.stringify(padded.body));
      assert.equal(padded.body.transaction_id, pay.txnId);
    }
  });
});

Deno.test("refunding an uncaptured payment points to cancel (or, for a legacy charge, the Dashboard)", async () => {
  await withRefundWorld(async (w) => {
    const { pi } = await authorizeAtStripe(w.stripe, 4000, "hold@example.com");
    await w.deliver();
    const held = await post(w, { transaction_id: pi.id, amount: 100 });
    assert.equal(held.status, 409);
    assert.match(held.body.detail, /not captured/);
    assert.match(held.body.detail, /POST \/api\/admin\/payments\/transactions\/txn_\w+\/cancel/);

    const charge = await w.stripe.charges.create({
      amount: 2000,
      currency: "usd",
      source: "tok_visa",
      capture: false,
    });
    await w.deliver();
    const legacy = await post(w, { transaction_id: charge.id, amount: 100 });
    assert.equal(legacy.status, 409);
    assert.match(legacy.body.detail, /not captured/);
    assert.match(legacy.body.detail, /without a PaymentIntent/);
    assert.match(legacy.body.detail, /Stripe Dashboard/);
    assert.doesNotMatch(legacy.body.detail, /\/cancel/);
  });
});
