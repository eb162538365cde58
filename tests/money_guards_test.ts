/**
 * Mode and currency guards: events of the other mode are acknowledged and
 * ignored; amounts follow each currency's minor unit before any Stripe call;
 * a refund that fails while its answer was lost raises an ops alert;
 * settlement only touches the refund's own transaction.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { createAdmin } from "./helpers/identity.ts";
import { paymentStory, stripeEvent, T0 } from "./helpers/stripe_objects.ts";
import { postEvent, WEBHOOK_ENV } from "./helpers/webhooks.ts";
import { minorUnitProblem, minorUnits } from "../domain/money.ts";
import { AppError } from "../core/errors.ts";
import { askRefund, withRefundWorld } from "./helpers/refunds.ts";
import { refundObject } from "./helpers/stripe_objects.ts";

Deno.test("webhook intake: a live event on a test key is acknowledged, ignored, logged and counted", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Live1", amount: 1500 });
    const live = { ...story.created(T0), livemode: true };
    const res = await postEvent(t.app, live, { clock: t.clock });
    assert.equal(res.status, 200, "a 4xx would make Stripe retry for days");
    await t.services.webhooks.drain();
    const record = await t.services.webhooks.get(live.id);
    assert.equal(record.status, "ignored");
    assert.match(record.detail ?? "", /livemode/);
    assert.equal((await t.services.transactions.list({ limit: 10 })).data.length, 0);
    assert.ok(t.logs.some((l) => l.includes("livemode")), "a log line says why");
    assert.deepEqual(await t.services.webhooks.ignoredCounts(), { livemode_mismatch: 1 });
    // the same event again is a duplicate, not counted twice
    await (await postEvent(t.app, live, { clock: t.clock })).body?.cancel();
    assert.deepEqual(await t.services.webhooks.ignoredCounts(), { livemode_mismatch: 1 });
    // and an operator sees it where they look: GET /metrics
    const admin = await createAdmin(t, "admin");
    const scraped = await (await t.app.request("/metrics", {
      headers: { authorization: `Bearer ${admin.token}` },
    })).text();
    assert.match(scraped, /^payops_webhook_events_ignored\{reason="livemode_mismatch"\} 1$/m);
    // a test event on the test key is applied as usual
    const test = story.created(T0);
    await (await postEvent(t.app, test, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    assert.equal((await t.services.webhooks.get(test.id)).status, "processed");
  }, { env: { ...WEBHOOK_ENV, STRIPE_SECRET_KEY: "sk_test_guards" } });
});

Deno.test("minorUnits(): zero-, two- and three-decimal currencies as Stripe counts them", () => {
  assert.equal(minorUnits("jpy"), 0);
  assert.equal(minorUnits("KRW"), 0);
  assert.equal(minorUnits("usd"), 2);
  assert.equal(minorUnits("kwd"), 3);
  assert.equal(minorUnits("bhd"), 3);
  assert.equal(
    minorUnitProblem(1234, "kwd"),
    "KWD amounts must end in 0 (Stripe accepts 1230 or 1240, not 1234)",
  );
  assert.equal(minorUnitProblem(1230, "kwd"), null);
  assert.equal(minorUnitProblem(1234, "usd"), null);
  assert.equal(minorUnitProblem(1234, "jpy"), null);
});

Deno.test("refundService.create(): a KWD amount not ending in 0 is refused before any Stripe call", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Kwd1", amount: 12_340, currency: "kwd" });
    for (const e of [story.created(T0), ...story.succeeded(T0 + 1)]) {
      await t.services.stripeEvents.apply(e);
    }
    const txn = await t.services.transactions.get(story.pi);
    const operator = await createAdmin(t, "operator");
    const ctx = {
      actor: { type: "admin" as const, id: operator.id, role: operator.role },
      request: { request_id: "req_kwd", ip: null, user_agent: null },
      second_factor: true,
    };
    await assert.rejects(
      t.services.refunds.create(ctx, {
        transaction_id: txn.id,
        amount: 1_005,
        reason: "requested_by_customer",
        note: "three decimals",
      }),
      (e) => {
        assert.ok(e instanceof AppError);
        assert.equal(e.code, "validation_failed");
        assert.equal(e.errors?.[0].path, "body.amount");
        assert.match(e.errors?.[0].message ?? "", /end in 0/);
        return true;
      },
    );
    const after = await t.services.transactions.get(story.pi);
    assert.equal(after.amount_reserved, 0, "nothing reserved");
    assert.equal((await t.services.refunds.list({ limit: 10 })).data.length, 0, "nothing recorded");
  });
});

Deno.test("a refund that fails at Stripe while its answer was lost here raises an ops alert", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(4000, "pm_card_refundFail");
    w.emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
    const res = await askRefund(w, pay.txnId, 1000, "customer asked");
    assert.equal(res.refund.status, "processing");
    // only the failure reaches us: the pending refund's own events were lost
    await w.deliver((held) => held.filter((h) => h.type === "refund.failed"));
    const refund = await w.t.services.refunds.get(res.refund.id);
    assert.equal(refund.status, "failed");
    const alerts = await w.t.services.refunds.opsAlerts();
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].refund_id, res.refund.id);
    assert.equal(alerts[0].kind, "refund_failed_after_success");
    const txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_reserved, 0);
    assert.equal(txn.amount_refunded, 0);
  }, { emulator: { refundFailureDelayMs: 0 } });
});

Deno.test("settlement: a Stripe refund naming another transaction's refund in its metadata settles nothing there", async () => {
  await withRefundWorld(async (w) => {
    const a = await w.pay(5000);
    const b = await w.pay(3000);
    w.emu.faults.inject({ kind: "server_error", method: "POST", path: "/v1/refunds" });
    const res = await askRefund(w, a.txnId, 1000, "customer asked");
    assert.equal(res.refund.status, "processing");
    // a refund on B whose metadata (copied by hand in the Dashboard) names A's refund
    const bTxn = await w.t.services.transactions.get(b.txnId);
    const foreign = refundObject({
      charge: bTxn.stripe_charge!,
      payment_intent: b.pi.id,
      amount: 500,
      refund_id: res.refund.id,
    });
    await w.t.services.stripeEvents.apply(stripeEvent("refund.created", foreign, T0));
    const ours = await w.t.services.refunds.get(res.refund.id);
    assert.equal(ours.status, "processing", "A's refund is not settled by B's");
    assert.equal(ours.stripe_refund, null);
    assert.equal((await w.t.services.transactions.get(a.txnId)).amount_reserved, 1000);
    const onB = await w.t.services.refunds.list({ limit: 10, transaction_id: b.txnId });
    assert.equal(onB.data.length, 1, "B's refund is recorded on B");
    assert.equal(onB.data[0].stripe_refund, foreign.id);
    assert.equal((await w.t.services.transactions.get(b.txnId)).amount_refunded, 500);
  });
});
