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
import { AppError } from "../core/errors.ts";
import { refusalProblem } from "../services/refunds/request_parts.ts";

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
    assert.ok(
      problem.detail.startsWith(
        "Stripe has only 2.00 USD left to refund on this payment, less than the 3.05 USD " +
          "asked (amount_too_large: ",
      ),
      problem.detail,
    );
    assert.match(problem.detail, /no money moved: ask for at most 2\.00 USD, or /);
    assert.doesNotMatch(problem.detail, /at Stripe than asked/);
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

Deno.test("amount_too_large without what is left: a sentence naming the amount asked", () => {
  const refused = new AppError("stripe_error", "Stripe refused the refund", {
    extra: { stripe: { code: "amount_too_large", message: "Refund amount is too large." } },
  });
  const problem = refusalProblem(refused, { id: "rfd_x", currency: "eur", amount: 5000 });
  assert.equal(problem.code, "charge_not_refundable");
  assert.equal(problem.extra?.refundable_at_stripe, undefined);
  assert.equal(
    problem.message,
    "Stripe has less than the 50.00 EUR asked left to refund on this payment " +
      "(amount_too_large: Refund amount is too large.), most likely as a refund made elsewhere (the " +
      "Dashboard) has not reached this service yet. Refund rfd_x is recorded failed and no " +
      "money moved: ask for less (the Stripe Dashboard shows what is left), or wait for that " +
      "refund's events to arrive and the transaction to show it.",
  );
});
