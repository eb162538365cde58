/**
 * A refund made elsewhere (the Dashboard) that this service has not heard of
 * yet leaves less at Stripe than we think: Stripe's `amount_too_large` is a
 * state of the charge, answered like `charge_already_refunded` (409
 * `charge_not_refundable`, saying what is left), not a 502 that reads as an
 * outage.
 */
import assert from "node:assert/strict";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { responseChecker } from "./helpers/response_schema.ts";

Deno.test("Stripe's amount_too_large is 409 charge_not_refundable saying how much is left at Stripe", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(4000);
    // the Dashboard refunds most of it; its webhooks have not arrived
    await w.stripe.refunds.create({ payment_intent: pay.pi.id, amount: 3800 });
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", otpHeaders(w.t, w.operator), {
        transaction_id: pay.txnId,
        amount: 305,
        reason: "requested_by_customer",
        note: "raced the Dashboard",
      }),
    );
    const problem = await res.json();
    assert.equal(res.status, 409, JSON.stringify(problem));
    assert.equal(problem.code, "charge_not_refundable");
    assert.equal(problem.stripe.code, "amount_too_large");
    assert.equal(problem.refundable_at_stripe, 200);
    assert.match(problem.detail, /only 2.00 USD is left to refund at Stripe/);
    assert.match(problem.detail, /no money moved/);
    const refund = await w.t.services.refunds.get(problem.refund_id);
    assert.equal(refund.status, "failed");
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).amount_refunded, 3800);
    const doc = await (await w.t.app.request("/openapi.json")).json();
    responseChecker(doc).check(
      "post",
      "/api/admin/payments/refunds",
      409,
      "application/problem+json",
      problem,
      "amount_too_large",
    );
  });
});
