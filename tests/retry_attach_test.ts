/**
 * Saving the retry's card on the customer at Stripe (README "Retrying failed
 * payments": every rule is checked before anything is sent to Stripe): a
 * retry refused by the in-flight lock or a cap saves nothing, and the attach
 * is recorded before it is sent.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import type { StripeCallOptions } from "../services/stripe/gateway.ts";
import { RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { jsonRequest } from "./helpers/identity.ts";

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

const ATTACH = /^\/v1\/payment_methods\/[^/]+\/attach$/;

/** POST /retries with the raw answer (its headers), as the operator, with `key` if given. */
async function postRetry(w: RetryWorld, body: Record<string, unknown>, key?: string) {
  const headers = { ...await w.stepUp(), ...(key ? { "idempotency-key": key } : {}) };
  const res = await w.t.app.request(RETRIES, jsonRequest("POST", headers, body));
  return { res, body: await res.json() as Record<string, unknown> };
}

/** The cards saved on the customer at Stripe, and the attach audit entries naming them. */
async function savedAndAudited(w: RetryWorld, customer: string) {
  const saved = (await w.stripe.paymentMethods.list({ customer, type: "card" })).data;
  const audit = (await w.t.services.audit.list({ limit: 100, action: "payment_method.attach" }))
    .data;
  return { saved: saved.map((pm) => pm.id), audited: audit.map((e) => e.target?.id) };
}

Deno.test("a lost attach answer: 503 with Retry-After; the same Idempotency-Key finishes the retry with the same attach", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    w.emu.faults.inject({ method: "POST", path: ATTACH, kind: "act_then_drop" });
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa_debit" };
    const first = await postRetry(w, body, "click-1");
    assert.equal(first.res.status, 503, JSON.stringify(first.body));
    assert.equal(first.body.code, "stripe_unavailable");
    assert.ok(Number(first.res.headers.get("retry-after")) >= 1, "Retry-After");
    const id = String(first.body.retry_id);
    assert.match(
      String(first.body.detail),
      new RegExp(`same Idempotency-Key.*${id}|${id}.*same Idempotency-Key`),
    );
    // the attempt and its attach are on record before Stripe's answer is known
    const created = (await w.t.services.audit.list({ limit: 20, action: "retry.create" })).data;
    const intent = created.find((e) => e.target?.id === id)?.after as { attach?: unknown };
    assert.ok(intent?.attach, "the attach intent is audited before the call");
    assert.equal((await w.get(`${RETRIES}/${id}`)).body.status, "processing");

    const again = await postRetry(w, body, "click-1");
    assert.equal(again.res.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.id, id);
    assert.equal(again.body.status, "succeeded");
    // the first answer was a 503: this request charged, so it is no replay
    assert.equal(again.res.headers.get("idempotent-replayed"), null, "this request acted");
    const third = await postRetry(w, body, "click-1");
    assert.equal(third.res.status, 201);
    assert.equal(third.body.id, id);
    assert.equal(third.res.headers.get("idempotent-replayed"), "true", "the stored answer");
    const { saved, audited } = await savedAndAudited(w, f.customer);
    assert.equal(saved.length, 1, "Stripe answered the same attach: one card saved");
    assert.deepEqual(audited, saved, "the saved card is audited");
    assert.equal(again.body.payment_method, saved[0]);
    const charged = (await w.charges(f.pi.id)).filter((c) => c.status === "succeeded");
    assert.equal(charged.length, 1);
  });
});

Deno.test("a lost attach answer without an Idempotency-Key: the payment is held until reconciliation closes the retry, card audited", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    w.emu.faults.inject({ method: "POST", path: ATTACH, kind: "act_then_drop" });
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa_debit" };
    const first = await postRetry(w, body);
    assert.equal(first.res.status, 503);
    assert.ok(first.res.headers.get("retry-after"));
    const id = String(first.body.retry_id);
    assert.match(String(first.body.detail), /no Idempotency-Key/);
    // full paths, as every other error of the API names them
    assert.match(String(first.body.detail), new RegExp(`GET /api/admin/payments/retries/${id}`));
    assert.match(
      String(first.body.detail),
      new RegExp(`GET /api/admin/payments/customers/${f.customer}/payment-methods`),
    );
    const second = await postRetry(w, body);
    assert.equal(second.res.status, 409, "held: no second card saved");
    assert.equal(second.body.retry_id, id);

    w.clock.advance(61_000);
    await w.runAllJobs();
    const r = await w.get(`${RETRIES}/${id}`);
    assert.equal(r.body.status, "failed");
    assert.equal(r.body.settled_by, "reconcile");
    assert.match(String(r.body.failure_message), /nothing was charged/);
    // not a decline of the card: support retries, with the card now saved
    assert.match(String(r.body.next_step), /nothing was charged/);
    assert.doesNotMatch(String(r.body.next_step), /another card/);
    const { saved, audited } = await savedAndAudited(w, f.customer);
    assert.equal(saved.length, 1);
    assert.deepEqual(audited, saved, "the card Stripe saved is audited");

    const next = await w.retry({ transaction_id: f.txnId, payment_method: saved[0] });
    assert.equal(next.body.status, "succeeded", JSON.stringify(next.body));
    assert.equal((await savedAndAudited(w, f.customer)).saved.length, 1);
  });
});
