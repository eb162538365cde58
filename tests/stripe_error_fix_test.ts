/**
 * A `stripe_error` (502) says what to do, not only what Stripe said (README, "API": every
 * problem says what happened and what to do): the object may have changed at Stripe, so read
 * it again (a dispute: `POST /api/admin/payments/disputes/sync`), with Stripe's request id to
 * look the request up by; a decline asks for another payment method.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { stripeErrorToAppError } from "../services/stripe/errors.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";

Deno.test("accepting a dispute Stripe already closed: the 502 says to pull it again with sync, and names Stripe's request", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    // closed at Stripe behind the service's back (the Dashboard), its webhooks lost
    await w.stripe.disputes.close(dispute.stripe_dispute);
    await w.dropHeld();
    const path = `/disputes/${dispute.id}/accept`;
    const refused = await call(w, w.operator, "POST", path, { note: "too late" }, true);
    assert.equal(refused.status, 502, JSON.stringify(refused.body));
    assert.equal(refused.body.code, "stripe_error");
    const detail: string = refused.body.detail;
    // Stripe's words, then one sentence of what to do
    assert.match(detail, /^Stripe refused the request: This dispute is already lost\. [^.]+\.$/);
    assert.ok(
      detail.includes(
        `POST /api/admin/payments/disputes/sync {"dispute_id":"${dispute.id}"}`,
      ),
      detail,
    );
    const requestId = refused.body.stripe.request_id;
    assert.match(requestId, /^req_/);
    assert.ok(detail.includes(requestId), detail);

    // and the sync it names does what it says: the dispute shows lost, nothing left to accept
    const synced = await call(w, w.operator, "POST", "/disputes/sync", {
      dispute_id: dispute.id,
    });
    assert.equal(synced.status, 200, JSON.stringify(synced.body));
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.status, "lost");
    assert.ok(!shown.actions.includes("accept"), JSON.stringify(shown.actions));
  });
});

Deno.test("stripeErrorToAppError(): a refusal names a way to read the object again and Stripe's request id; a decline asks for another payment method", () => {
  const refused = stripeErrorToAppError(Stripe.errors.StripeError.generate({
    type: "invalid_request_error",
    code: "resource_missing",
    message: "No such payment_intent: 'pi_gone'",
    statusCode: 400,
    requestId: "req_abc123",
  }));
  assert.equal(refused.code, "stripe_error");
  assert.match(
    refused.message,
    /^Stripe refused the request: No such payment_intent: 'pi_gone'\. /,
  );
  assert.match(refused.message, /may have changed at Stripe/);
  assert.match(refused.message, /Stripe Dashboard/);
  assert.match(refused.message, /req_abc123/);
  assert.match(refused.message, /\.$/);
  assert.equal(refused.message.split(". ").length, 2, "Stripe's sentence and one of ours");

  const pointed = stripeErrorToAppError(
    Stripe.errors.StripeError.generate({
      type: "invalid_request_error",
      message: "This dispute is already lost.",
      statusCode: 400,
    }),
    { refresh: "pull it again with POST /api/admin/payments/disputes/sync" },
  );
  assert.match(pointed.message, /disputes\/sync/);
  assert.doesNotMatch(pointed.message, /request id/, "no request id: none is named");

  const declined = stripeErrorToAppError(Stripe.errors.StripeError.generate({
    type: "card_error",
    code: "card_declined",
    decline_code: "insufficient_funds",
    message: "Your card has insufficient funds.",
    statusCode: 402,
    requestId: "req_dec",
  }));
  assert.equal(declined.code, "stripe_error");
  assert.match(declined.message, /another payment method/);
  assert.match(declined.message, /req_dec/);
});
