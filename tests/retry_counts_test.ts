/**
 * Only attempts that reached the card (or whose outcome is unknown) count
 * toward the retry limits (README "Retry policy"): a confirm or attach Stripe
 * asked to try again (429 `rate_limit`, `lock_timeout`) is closed at once,
 * answered 503 with Retry-After and gives its count back; a refusal of the
 * request itself (not the card's decline) fails uncounted. The count is still
 * taken in the commit that records the attempt, so a burst cannot pass a cap.
 */
import assert from "node:assert/strict";
import { listJobs } from "../kv/jobs.ts";
import { getRetryState } from "../kv/retries.ts";
import type Stripe from "stripe";
import { type FailedPayment, RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";

const CONFIRM = /\/confirm$/;
const ATTACH = /^\/v1\/payment_methods\/[^/]+\/attach$/;

/** The attempt `id` as closed by a "try again": failed, uncounted, nothing left to reconcile. */
async function assertClosedUncounted(w: RetryWorld, id: unknown) {
  const r = await w.get(`${RETRIES}/${id}`);
  assert.equal(r.body.status, "failed", JSON.stringify(r.body));
  assert.equal(r.body.failure_code, "stripe_unavailable");
  assert.match(String(r.body.failure_message), /did nothing: nothing was charged/);
  assert.match(String(r.body.next_step), /retry the payment again/);
  const jobs = await listJobs(w.t.kv);
  assert.equal(jobs.filter((j) => j.kind === "retry.reconcile").length, 0, "nothing pending");
  const settles = (await w.t.services.audit.list({ limit: 50, action: "retry.settle" })).data;
  const settle = settles.find((e) => e.target?.id === id);
  assert.equal(settle?.result, "failed");
  assert.equal((settle?.after as { counted?: boolean }).counted, false);
}

for (const kind of ["rate_limit", "lock_timeout"] as const) {
  Deno.test(`POST /retries: a confirm Stripe answers ${kind} is closed uncounted, 503 with Retry-After; the same Idempotency-Key makes a new attempt`, async () => {
    await withRetryWorld(async (w) => {
      const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
      w.emu.faults.inject({ method: "POST", path: CONFIRM, kind, times: 3 });
      const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
      const first = await w.retry(body, { idempotencyKey: "click-1" });
      assert.equal(first.status, 503, JSON.stringify(first.body));
      assert.equal(first.body.code, "stripe_unavailable");
      assert.ok(Number(first.headers.get("retry-after")) >= 1, "Retry-After");
      await assertClosedUncounted(w, first.body.retry_id);
      assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts, 0);
      assert.equal((await w.charges(f.pi.id)).length, 1, "only the first decline");

      // RETRY_MAX_ATTEMPTS is 1: the closed attempt left it untouched
      const again = await w.retry(body, { idempotencyKey: "click-1" });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.notEqual(again.body.id, first.body.retry_id, "a new attempt");
      assert.equal(again.body.status, "succeeded");
      const replay = await w.retry(body, { idempotencyKey: "click-1" });
      assert.deepEqual(replay.body, again.body, "and that answer is kept");
      assert.equal((await w.charges(f.pi.id)).filter((c) => c.status === "succeeded").length, 1);
      // reconciliation finds nothing to send
      w.clock.advance(61_000);
      await w.runAllJobs();
      assert.equal((await w.t.services.retries.reconcile()).settled, 0);
      assert.equal((await w.charges(f.pi.id)).length, 2);
    }, { env: { RETRY_MAX_ATTEMPTS: "1" } });
  });
}

Deno.test("POST /retries: a confirm Stripe refuses as a request (the PaymentIntent moved) fails uncounted; a decline counts", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const card = await w.stripe.paymentMethods.attach("pm_card_visa", { customer: f.customer });
    // canceled at Stripe; its webhook is still on its way
    await w.stripe.paymentIntents.cancel(f.pi.id);
    const refused = await w.retry({ transaction_id: f.txnId, payment_method: card.id });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.payment_intent_status, "canceled");
    const attempt = await w.get(`${RETRIES}/${refused.body.retry_id}`);
    assert.equal(attempt.body.status, "failed");
    assert.equal(attempt.body.failure_code, "payment_intent_unexpected_state");
    assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts, 0);

    const g = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const declined = await w.retry({
      transaction_id: g.txnId,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    });
    assert.equal(declined.body.status, "failed");
    assert.equal((await getRetryState(w.t.kv, g.txnId)).value?.attempts, 1);
    const capped = await w.retry({ transaction_id: g.txnId, payment_method: "pm_card_visa" });
    assert.equal(capped.status, 422);
    assert.equal(capped.body.reason, "max_attempts");
  }, { env: { RETRY_MAX_ATTEMPTS: "1" } });
});

Deno.test("POST /retries: an attach Stripe answers 429 ends the attempt uncounted, 503; the card is free for the next", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    w.emu.faults.inject({ method: "POST", path: ATTACH, kind: "rate_limit", times: 3 });
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    const first = await w.retry(body);
    assert.equal(first.status, 503, JSON.stringify(first.body));
    assert.ok(first.headers.get("retry-after"));
    await assertClosedUncounted(w, first.body.retry_id);
    assert.equal(
      (await w.stripe.paymentMethods.list({ customer: f.customer, type: "card" })).data.length,
      0,
      "nothing saved",
    );
    const next = await w.retry(body);
    assert.equal(next.status, 201, JSON.stringify(next.body));
    assert.equal(next.body.status, "succeeded");
  }, { env: { RETRY_MAX_ATTEMPTS: "1", RETRY_MAX_PER_CARD_PER_DAY: "1" } });
});

Deno.test("RETRY_MAX_PER_CARD_PER_DAY under a burst with 429s: the card is used at most the cap, and a 429 gives its use back", async () => {
  await withRetryWorld(async (w) => {
    const failed: FailedPayment[] = [];
    for (let i = 0; i < 4; i++) {
      failed.push(await w.failedPayment(1000 + i, "pm_card_chargeDeclined"));
    }
    const own: Stripe.PaymentMethod[] = [];
    for (const f of failed) {
      const pm = await w.stripe.paymentMethods.create({
        type: "card",
        card: { number: "4242424242424242" },
      });
      own.push(await w.stripe.paymentMethods.attach(pm.id, { customer: f.customer }));
    }
    // the first three confirms to reach Stripe are told to try again, whichever they are
    w.emu.faults.inject({ method: "POST", path: CONFIRM, kind: "rate_limit", times: 9 });
    await w.stepUp();
    const burst = await Promise.all(
      failed.map((f, i) => w.retry({ transaction_id: f.txnId, payment_method: own[i].id })),
    );
    for (const r of burst) {
      assert.ok([201, 422, 503].includes(r.status), JSON.stringify(r.body));
      if (r.status === 422) assert.equal(r.body.reason, "card_daily_cap");
    }
    const charged = async () => {
      let n = 0;
      for (const f of failed) {
        n += (await w.charges(f.pi.id)).filter((c) => c.status === "succeeded").length;
      }
      return n;
    };
    assert.ok(await charged() <= 2, "never more than the cap reached the card");
    // what the 429s gave back is usable: in all, exactly the cap is charged
    w.emu.faults.clear();
    for (const [i, f] of failed.entries()) {
      if ((await w.charges(f.pi.id)).some((c) => c.status === "succeeded")) continue;
      const r = await w.retry({ transaction_id: f.txnId, payment_method: own[i].id });
      assert.ok([201, 422].includes(r.status), JSON.stringify(r.body));
    }
    assert.equal(await charged(), 2);
  }, { env: { RETRY_MAX_PER_CARD_PER_DAY: "2" } });
});

Deno.test("POST /retries: after a confirm's 429, resending with the same Idempotency-Key saves the test card once", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    // each request's confirm is told to try again (the gateway tries three times)
    w.emu.faults.inject({ method: "POST", path: CONFIRM, kind: "rate_limit", times: 9 });
    const body = { transaction_id: f.txnId, payment_method: "pm_card_jcb" };
    const ids: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await w.retry(body, { idempotencyKey: "click-jcb" });
      assert.equal(res.status, 503, JSON.stringify(res.body));
      ids.push(res.body.retry_id);
    }
    const done = await w.retry(body, { idempotencyKey: "click-jcb" });
    assert.equal(done.status, 201, JSON.stringify(done.body));
    assert.equal(done.body.status, "succeeded");
    assert.equal(new Set(ids).size, 3, "a new attempt each time");
    const saved = await w.stripe.paymentMethods.list({ customer: f.customer, type: "card" });
    assert.equal(saved.data.length, 1, "the card is saved once");
    assert.equal(done.body.payment_method, saved.data[0].id);
    assert.equal(done.body.requested_payment_method, "pm_card_jcb");
    for (const id of ids) {
      const r = await w.get(`${RETRIES}/${id}`);
      assert.equal(r.body.payment_method, saved.data[0].id);
    }
    const attaches = (await w.t.services.audit.list({ limit: 50, action: "payment_method.attach" }))
      .data;
    assert.equal(attaches.length, 1, "one attach audited");
  });
});
