/**
 * A capture follows the currency's minor unit before anything is sent to
 * Stripe, as refunds do (README "Transactions and money edges"): three-decimal
 * currencies take amounts ending in 0.
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { jsonRequest } from "./helpers/identity.ts";

const TXNS = "/api/admin/payments/transactions";

Deno.test("a KWD capture not ending in 0 is 422 on body.amount_to_capture and never sent", async () => {
  await withRetryWorld(async (w) => {
    const customer = await w.stripe.customers.create({ email: "kwd@example.com" });
    const pi = await w.stripe.paymentIntents.create({
      amount: 10000,
      currency: "kwd",
      customer: customer.id,
      capture_method: "manual",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    await w.deliver();
    const post = async (body: unknown) => {
      const res = await w.t.app.request(
        `${TXNS}/${pi.id}/capture`,
        jsonRequest("POST", await w.stepUp(), body),
      );
      return { status: res.status, body: await res.json() as Record<string, unknown> };
    };
    const bad = await post({ amount_to_capture: 1235 });
    assert.equal(bad.status, 422);
    const errors = bad.body.errors as { path: string; message: string }[];
    assert.equal(errors[0].path, "body.amount_to_capture");
    assert.match(errors[0].message, /KWD amounts must end in 0/);
    assert.equal((await w.stripe.paymentIntents.retrieve(pi.id)).status, "requires_capture");
    const ok = await post({ amount_to_capture: 1230 });
    assert.equal(ok.status, 201);
    assert.equal((await w.stripe.paymentIntents.retrieve(pi.id)).amount_received, 1230);
  });
});
