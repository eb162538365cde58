/**
 * Saving the retry's card on the customer at Stripe (README "Retrying failed
 * payments": every rule is checked before anything is sent to Stripe): a
 * retry refused by the in-flight lock or a cap saves nothing, and the attach
 * is recorded before it is sent.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import type { StripeCallOptions } from "../services/stripe/gateway.ts";
import { withRetryWorld } from "./helpers/retries.ts";

Deno.test("a burst of 20 retries of one payment saves the card on the customer once; the refusals are audited", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    await w.stepUp();
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        () => w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" }),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 409).length, 19, JSON.stringify(statuses));

    const saved = await w.stripe.paymentMethods.list({ customer: f.customer, type: "card" });
    assert.equal(saved.data.length, 1, "the card is saved once");
    const audit = (await w.t.services.audit.list({ limit: 200 })).data;
    assert.equal(audit.filter((e) => e.action === "payment_method.attach").length, 1);
    const denied = audit.filter((e) => e.action === "retry.create" && e.result === "denied");
    assert.equal(denied.length, 19, "every 409 is audited as a denied retry");
    const inFlight = results.filter((r) => /in flight/.test(String(r.body.detail)));
    assert.ok(inFlight.length > 0, "the burst met the in-flight lock");
    assert.equal(
      denied.filter((e) => /in flight/.test(String(e.reason))).length,
      inFlight.length,
    );
  });
});

Deno.test("a card refused by the daily cap under a burst is saved on no customer", async () => {
  await withRetryWorld(async (w) => {
    const failed = [];
    for (let i = 0; i < 8; i++) {
      failed.push(await w.failedPayment(1000 + i, "pm_card_chargeDeclined"));
    }
    await w.stepUp();
    const results = await Promise.all(
      failed.map((f) => w.retry({ transaction_id: f.txnId, payment_method: "pm_card_unionpay" })),
    );
    const refused = failed.filter((_, i) => results[i].status === 422);
    assert.equal(refused.length, 3, JSON.stringify(results.map((r) => r.status)));
    for (const [i, f] of failed.entries()) {
      const saved = await w.stripe.paymentMethods.list({ customer: f.customer, type: "card" });
      assert.equal(saved.data.length, results[i].status === 201 ? 1 : 0, `customer ${i}`);
    }
  }, { env: { RETRY_MAX_PER_CARD_PER_DAY: "5" } });
});

Deno.test("Stripe refusing to save the card ends the attempt failed with its code; nothing is charged", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    refuseAttach = true;
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    refuseAttach = false;
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, "failed");
    assert.equal(res.body.failure_code, "resource_missing");
    assert.match(String(res.body.failure_message), /refused to save the payment method/);
    assert.equal((await w.charges(f.pi.id)).length, 1, "only the first decline");
    const audit = (await w.t.services.audit.list({ limit: 50 })).data;
    const attach = audit.filter((e) => e.action === "payment_method.attach");
    assert.deepEqual(attach.map((e) => e.result), ["failed"]);
    // the payment is free for the next attempt
    const next = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(next.body.status, "succeeded");
  }, {
    // Stripe answers the attach with a refusal (an unknown payment method: 404)
    intercept: (g) => ({
      call<T>(fn: (s: Stripe) => Promise<T>, o?: StripeCallOptions): Promise<T> {
        if (!refuseAttach || o?.label !== "payment_methods.attach") return g.call(fn, o);
        return g.call((s) => s.paymentMethods.attach("pm_unknown", { customer: "cus_x" }), o)
          .then(() => assert.fail("the emulator refuses an unknown payment method"));
      },
    }),
  });
});

let refuseAttach = false;
