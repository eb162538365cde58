/**
 * One transaction per payment whatever arrives first: objects that name only
 * the charge (a dispute, an early fraud warning, a review, a Dashboard refund)
 * make a charge-keyed stub, which merges into the PaymentIntent's record as
 * soon as an event links the two.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  disputeObject,
  earlyFraudWarningObject,
  paymentStory,
  refundObject,
  reviewObject,
  stripeEvent,
  T0,
  testId,
} from "./helpers/stripe_objects.ts";
import { allLedgerEntries, listBalances } from "../kv/customers.ts";
import { auditEntries, authHeaders, createAdmin } from "./helpers/identity.ts";
import { AppError } from "../core/errors.ts";
import { postEvent, WEBHOOK_ENV } from "./helpers/webhooks.ts";
import { API } from "./helpers/disputes.ts";

Deno.test("a chargeback naming only the charge lands on the payment's one transaction", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Merge1", amount: 4000 });
    const apply = (e: Parameters<typeof t.services.stripeEvents.apply>[0]) =>
      t.services.stripeEvents.apply(e);
    await apply(story.created(T0));
    const du = testId("du");
    const at = T0 + 30;
    const dispute = (type: string, withdrawn: boolean) =>
      stripeEvent(
        type,
        disputeObject({ id: du, charge: story.ch, payment_intent: null, amount: 4000, withdrawn }),
        at,
      );
    await apply(dispute("charge.dispute.created", false));
    await apply(dispute("charge.dispute.funds_withdrawn", true));
    await apply(stripeEvent(
      "radar.early_fraud_warning.created",
      earlyFraudWarningObject({ charge: story.ch, payment_intent: null, created: at }),
      at,
    ));
    await apply(
      stripeEvent(
        "review.opened",
        reviewObject({ charge: story.ch, payment_intent: null, created: at }),
        at,
      ),
    );
    const stub = await t.services.transactions.get(story.ch);
    const pending = await t.services.transactions.get(story.pi);
    assert.notEqual(stub.id, pending.id, "before the link is known, two records");

    const [chargeOk, piOk] = story.succeeded(T0 + 1);
    const result = await apply(chargeOk);
    // the event log keeps what the applier did, the merge included
    assert.match(result.detail, new RegExp(`merged ${stub.id} into ${pending.id}`));
    await apply(piOk);

    const page = await t.services.transactions.list({ limit: 10 });
    assert.equal(page.data.length, 1, "one transaction per payment");
    const txn = page.data[0];
    assert.equal(txn.id, pending.id, "the PaymentIntent's record survives");
    assert.equal((await t.services.transactions.get(story.ch)).id, txn.id);
    assert.equal((await t.services.transactions.get(stub.id)).id, txn.id, "the stub id redirects");
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.customer, "cus_Merge1");
    assert.equal(txn.amount_disputed, 4000);
    assert.equal(txn.dispute_status, "needs_response");
    assert.equal(txn.risk_signals.early_fraud_warnings.length, 1);
    assert.equal(txn.risk_signals.reviews.length, 1);
    const ledger = await allLedgerEntries(t.kv, "cus_Merge1");
    assert.deepEqual(ledger.map((e) => [e.type, e.amount, e.transaction_id]).sort(), [
      ["dispute_withdrawal", -4000, txn.id],
      ["payment", 4000, txn.id],
    ]);
    assert.equal((await listBalances(t.kv, "cus_Merge1"))[0].amount, 0);
    const byStatus = await t.services.transactions.list({ limit: 10, status: "unknown" });
    assert.equal(byStatus.data.length, 0, "the stub's indexes are gone");
  });
});

Deno.test("a Dashboard refund naming only the charge moves with its stub into the payment", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Merge2", amount: 3000 });
    await t.services.stripeEvents.apply(story.created(T0));
    const re = refundObject({ charge: story.ch, payment_intent: null, amount: 1000 });
    await t.services.stripeEvents.apply(stripeEvent("refund.created", re, T0 + 20));
    const stub = await t.services.transactions.get(story.ch);
    assert.equal(stub.amount_refunded, 1000);
    assert.ok(stub.amount_captured >= stub.amount_refunded, "refunded never above captured");
    const before = await t.services.refunds.list({ limit: 10, transaction_id: stub.id });
    assert.equal(before.data.length, 1);

    for (const e of story.succeeded(T0 + 1)) await t.services.stripeEvents.apply(e);
    const txn = await t.services.transactions.get(story.pi);
    assert.equal((await t.services.transactions.list({ limit: 10 })).data.length, 1);
    assert.equal(txn.amount_refunded, 1000);
    assert.equal(txn.amount_captured, 3000);
    const moved = await t.services.refunds.list({ limit: 10, transaction_id: txn.id });
    assert.deepEqual(moved.data.map((r) => r.id), before.data.map((r) => r.id));
    assert.equal(moved.data[0].transaction_id, txn.id);
    const left = await t.services.refunds.list({ limit: 10, transaction_id: stub.id });
    assert.equal(left.data.length, 0);
    // a refund asked for on the stub's id (an alert raised before the merge) lands on the payment
    const operator = await createAdmin(t, "operator");
    const ctx = {
      actor: { type: "admin" as const, id: operator.id, role: operator.role },
      request: { request_id: "req_merged", ip: null, user_agent: null },
      second_factor: true,
    };
    await assert.rejects(
      t.services.refunds.create(ctx, {
        transaction_id: stub.id,
        amount: 2001,
        reason: "requested_by_customer",
        note: "after the merge",
      }),
      (e) =>
        e instanceof AppError && e.code === "amount_exceeds_refundable" &&
        e.extra?.refundable === 2000,
    );
    const ledger = await allLedgerEntries(t.kv, "cus_Merge2");
    assert.deepEqual(ledger.map((e) => [e.type, e.amount]).sort(), [
      ["payment", 3000],
      ["refund", -1000],
    ]);
    const merges = (await auditEntries(t.kv)).filter((e) => e.action === "transaction.merge");
    assert.equal(merges.length, 1, "the merge is audited");
    assert.equal(merges[0].target?.id, txn.id);
  });
});

Deno.test("two events linking the stub at once, and again, merge it once", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Merge3", amount: 2000 });
    await t.services.stripeEvents.apply(story.created(T0));
    const du = disputeObject({
      charge: story.ch,
      payment_intent: null,
      amount: 2000,
      withdrawn: true,
    });
    await t.services.stripeEvents.apply(stripeEvent("charge.dispute.funds_withdrawn", du, T0 + 9));
    const linking = story.succeeded(T0 + 1);
    await Promise.all(linking.map((e) => t.services.stripeEvents.apply(e)));
    for (const e of linking) await t.services.stripeEvents.apply(e); // redelivered
    assert.equal((await t.services.transactions.list({ limit: 10 })).data.length, 1);
    const merges = (await auditEntries(t.kv)).filter((e) => e.action === "transaction.merge");
    assert.equal(merges.length, 1, "merged once");
    const txn = await t.services.transactions.get(story.ch);
    assert.equal(txn.amount_disputed, 2000);
    const ledger = await allLedgerEntries(t.kv, "cus_Merge3");
    assert.deepEqual(ledger.map((e) => [e.type, e.amount]).sort(), [
      ["dispute_withdrawal", -2000],
      ["payment", 2000],
    ]);
    assert.equal((await listBalances(t.kv, "cus_Merge3"))[0].amount, 0);
  });
});

Deno.test("through the webhook intake: the merge runs in the background and the event log says so", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Merge4", amount: 2500 });
    // a chargeback carries its withdrawal: amount_disputed is what Stripe took back
    const du = disputeObject({
      charge: story.ch,
      payment_intent: null,
      amount: 2500,
      withdrawn: true,
    });
    const [chargeOk, piOk] = story.succeeded(T0 + 1);
    const events = [
      story.created(T0),
      stripeEvent("charge.dispute.created", du, T0 + 9),
      chargeOk,
      piOk,
    ];
    for (const e of events) {
      const res = await postEvent(t.app, e, { clock: t.clock });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      await t.services.webhooks.drain();
    }
    assert.equal((await t.services.transactions.list({ limit: 10 })).data.length, 1);
    const logged = await t.services.webhooks.get(chargeOk.id);
    assert.equal(logged.status, "processed");
    assert.match(logged.detail ?? "", /^merged txn_\w+ into txn_\w+; /);
    assert.equal((await t.services.transactions.get(story.pi)).amount_disputed, 2500);
  }, { env: WEBHOOK_ENV });
});

Deno.test("a chargeback before its payment: the dispute record moves with the stub and lists under the customer", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Merge5", amount: 1800 });
    await t.services.stripeEvents.apply(story.created(T0));
    const du = disputeObject({ charge: story.ch, payment_intent: null, amount: 1800 });
    await t.services.stripeEvents.apply(stripeEvent("charge.dispute.created", du, T0 + 5));
    const stub = await t.services.transactions.get(story.ch);
    const support = await createAdmin(t, "support");
    const list = async (query: string) => {
      const res = await t.app.request(`${API}/disputes?${query}`, {
        headers: authHeaders(support),
      });
      assert.equal(res.status, 200);
      return (await res.json()).data as { id: string; transaction_id: string }[];
    };
    assert.equal((await list("customer=cus_Merge5")).length, 0, "no customer known yet");
    const [recorded] = await list("limit=10");
    assert.equal(recorded.transaction_id, stub.id);

    const linking = story.succeeded(T0 + 1);
    // twice and concurrently: the record moves once
    await Promise.all(linking.map((e) => t.services.stripeEvents.apply(e)));
    for (const e of linking) await t.services.stripeEvents.apply(e);
    const txn = await t.services.transactions.get(story.pi);
    assert.notEqual(txn.id, stub.id);
    const found = await list("customer=cus_Merge5");
    assert.deepEqual(found.map((d) => [d.id, d.transaction_id]), [[recorded.id, txn.id]]);
    const record = await t.services.disputes.get(recorded.id);
    assert.equal(record.transaction_id, txn.id);
    assert.equal(record.customer, "cus_Merge5");
    const moves = (await auditEntries(t.kv)).filter((e) => e.action === "dispute.move");
    assert.equal(moves.length, 1, "moved once, audited");
    assert.deepEqual(moves[0].after, { transaction_id: txn.id, customer: "cus_Merge5" });
    // a later event about the dispute keeps it on the payment
    const won = { id: du.id, charge: story.ch, payment_intent: null, amount: 1800 };
    await t.services.stripeEvents.apply(
      stripeEvent("charge.dispute.closed", disputeObject({ ...won, status: "won" }), T0 + 50),
    );
    assert.equal((await t.services.disputes.get(recorded.id)).transaction_id, txn.id);
    assert.equal((await list("customer=cus_Merge5")).length, 1);
  });
});
