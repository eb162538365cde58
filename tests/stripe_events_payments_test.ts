import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { chargeObject, customerObject, GENERIC_DECLINE } from "./helpers/stripe_objects.ts";
import { INSUFFICIENT_FUNDS, MASTERCARD, paymentIntentObject } from "./helpers/stripe_objects.ts";
import { paymentStory, stripeEvent, T0, testId } from "./helpers/stripe_objects.ts";
import { allLedgerEntries, listBalances } from "../kv/customers.ts";
import { auditEntries } from "./helpers/identity.ts";

Deno.test("stripeEvents.apply() turns a succeeded card payment into a transaction", async () => {
  await withTestApp(async (t) => {
    const cus = customerObject().id;
    const story = paymentStory({ customer: cus, amount: 4200, card: MASTERCARD });
    for (const e of [story.created(T0), ...story.succeeded(T0 + 2)]) {
      const r = await t.services.stripeEvents.apply(e);
      assert.equal(r.applied, true, r.detail);
    }
    const txn = await t.services.transactions.get(story.pi);
    assert.match(txn.id, /^txn_[0-9A-Z]{26}$/);
    assert.equal(txn.customer, cus);
    assert.equal(txn.amount, 4200);
    assert.equal(txn.currency, "usd");
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.stripe_payment_intent, story.pi);
    assert.equal(txn.stripe_charge, story.ch);
    assert.equal(txn.created, new Date(T0 * 1000).toISOString());
    assert.deepEqual(txn.payment_method, {
      type: "card",
      brand: "mastercard",
      last4: "4444",
      fingerprint: MASTERCARD.fingerprint,
    });
    assert.equal(txn.risk_level, "normal");
    assert.equal(txn.risk_score, 23);
    assert.equal(txn.failure_code, null);
    assert.deepEqual(
      [txn.amount_refunded, txn.amount_reserved, txn.amount_disputed],
      [0, 0, 0],
    );
    // the charge id finds it too
    assert.equal((await t.services.transactions.get(story.ch)).id, txn.id);

    const ledger = await allLedgerEntries(t.kv, cus);
    assert.deepEqual(ledger.map((e) => [e.type, e.amount, e.currency, e.transaction_id]), [
      ["payment", 4200, "usd", txn.id],
    ]);
    assert.deepEqual((await listBalances(t.kv, cus)).map((b) => [b.currency, b.amount]), [
      ["usd", 4200],
    ]);
    // plain ingestion is not audited (it is in the webhook-event log)
    assert.equal((await auditEntries(t.kv)).length, 0);
  });
});

Deno.test("stripeEvents.apply() applies the same event once", async () => {
  await withTestApp(async (t) => {
    const cus = customerObject().id;
    const story = paymentStory({ customer: cus });
    const [charge, pi] = story.succeeded(T0);
    assert.equal((await t.services.stripeEvents.apply(charge)).applied, true);
    assert.equal((await t.services.stripeEvents.apply(pi)).applied, true);
    const again = await t.services.stripeEvents.apply(charge);
    assert.equal(again.applied, false);
    assert.match(again.detail, /duplicate/);
    const stillAgain = await t.services.stripeEvents.apply(pi);
    assert.equal(stillAgain.applied, false);
    assert.equal((await allLedgerEntries(t.kv, cus)).length, 1);
    assert.equal((await listBalances(t.kv, cus))[0].amount, story.amount);
  });
});

Deno.test("stripeEvents.apply() follows each PaymentIntent event type", async (t) => {
  const cases: [string, string, string][] = [
    ["payment_intent.created", "requires_payment_method", "requires_payment_method"],
    ["payment_intent.requires_action", "requires_action", "requires_action"],
    ["payment_intent.processing", "processing", "processing"],
    ["payment_intent.canceled", "canceled", "canceled"],
    ["payment_intent.succeeded", "succeeded", "succeeded"],
  ];
  for (const [type, piStatus, txnStatus] of cases) {
    await t.step(`${type} -> ${txnStatus}`, async () => {
      await withTestApp(async (app) => {
        const pi = paymentIntentObject({
          status: piStatus as never,
          customer: "cus_Type1",
          amount: 990,
        });
        const r = await app.services.stripeEvents.apply(stripeEvent(type, pi, T0));
        assert.equal(r.applied, true);
        const txn = await app.services.transactions.get(pi.id);
        assert.equal(txn.status, txnStatus);
        assert.equal(txn.amount, 990);
        const paid = (await listBalances(app.kv, "cus_Type1"))[0]?.amount ?? 0;
        assert.equal(paid, txnStatus === "succeeded" ? 990 : 0);
      });
    });
  }
});

Deno.test("a declined attempt shows as failed with Stripe's codes, and is counted", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Declined1" });
    await t.services.stripeEvents.apply(story.created(T0));
    for (const e of story.failed(T0 + 1, INSUFFICIENT_FUNDS)) {
      await t.services.stripeEvents.apply(e);
    }
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.status, "failed");
    assert.equal(txn.failure_code, "card_declined");
    assert.equal(txn.decline_code, "insufficient_funds");
    assert.equal(txn.advice_code, "try_again_later");
    assert.equal(txn.failure_message, "Your card has insufficient funds.");
    assert.equal(txn.payment_method?.last4, "4242");
    assert.equal((await allLedgerEntries(t.kv, "cus_Declined1")).length, 0);
    const agg = await t.services.customers.aggregates("cus_Declined1");
    assert.equal(agg?.totals.failures, 1);
    assert.equal(agg?.totals.payments, 0);
    assert.deepEqual(agg?.totals.declines_by_code, { insufficient_funds: 1 });
  });
});

Deno.test("a retry after a decline succeeds, and a late decline event does not undo it", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Retry1" });
    const declined = story.failed(T0 + 1, GENERIC_DECLINE);
    await t.services.stripeEvents.apply(story.created(T0));
    await t.services.stripeEvents.apply(declined[1]);
    assert.equal((await t.services.transactions.get(story.pi)).status, "failed");
    for (const e of story.succeeded(T0 + 60)) await t.services.stripeEvents.apply(e);
    // Stripe redelivers the charge.failed late: an older attempt, nothing moves back.
    const late = await t.services.stripeEvents.apply(declined[0]);
    assert.equal(late.applied, true); // the failed charge is recorded as an attempt...
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.status, "succeeded"); // ...but the payment stays succeeded
    assert.equal(txn.stripe_charge, story.ch);
    assert.equal(txn.decline_code, null);
    const agg = await t.services.customers.aggregates("cus_Retry1");
    assert.equal(agg?.totals.failures, 1); // counted once (PI error, then its charge)
    assert.equal(agg?.totals.payments, 1);
  });
});

Deno.test("an older in-flight event after a newer decline does not move the payment back", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Order1" });
    const [, piFailed] = story.failed(T0 + 5);
    await t.services.stripeEvents.apply(piFailed);
    const stale = await t.services.stripeEvents.apply(story.processing(T0 + 2));
    assert.equal(stale.applied, false);
    assert.match(stale.detail, /stale/);
    assert.equal((await t.services.transactions.get(story.pi)).status, "failed");
    // a newer attempt (a retry) does move it forward again
    await t.services.stripeEvents.apply(story.processing(T0 + 9));
    assert.equal((await t.services.transactions.get(story.pi)).status, "processing");
  });
});

Deno.test("a Charge made without a PaymentIntent is its own transaction", async () => {
  await withTestApp(async (t) => {
    const ok = chargeObject({ customer: "cus_Legacy1", amount: 1200, created: T0 });
    const declined = chargeObject({
      customer: "cus_Legacy1",
      amount: 800,
      status: "failed",
      decline: INSUFFICIENT_FUNDS,
      created: T0 + 1,
    });
    await t.services.stripeEvents.apply(stripeEvent("charge.succeeded", ok, T0));
    await t.services.stripeEvents.apply(stripeEvent("charge.failed", declined, T0 + 1));
    const a = await t.services.transactions.get(ok.id);
    assert.equal(a.status, "succeeded");
    assert.equal(a.stripe_payment_intent, null);
    assert.equal(a.stripe_charge, ok.id);
    assert.equal(a.amount, 1200);
    const b = await t.services.transactions.get(declined.id);
    assert.notEqual(b.id, a.id);
    assert.equal(b.status, "failed");
    assert.equal(b.decline_code, "insufficient_funds");
    assert.equal(b.advice_code, "try_again_later");
    assert.deepEqual((await listBalances(t.kv, "cus_Legacy1")).map((x) => x.amount), [1200]);
  });
});

Deno.test("racing first events of one payment create one transaction", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Race1" });
    const events = [story.created(T0), story.processing(T0 + 1), ...story.succeeded(T0 + 2)];
    await Promise.all(events.map((e) => t.services.stripeEvents.apply(e)));
    const page = await t.services.transactions.list({ limit: 10 });
    assert.equal(page.data.length, 1);
    assert.equal(page.data[0].status, "succeeded");
    assert.equal((await listBalances(t.kv, "cus_Race1"))[0].amount, story.amount);
  });
});

Deno.test("unknown event types are acknowledged and ignored", async () => {
  await withTestApp(async (t) => {
    const r = await t.services.stripeEvents.apply(
      stripeEvent("invoice.paid", { id: testId("in") }, T0),
    );
    assert.equal(r.applied, false);
    assert.match(r.detail, /ignored: invoice\.paid/);
  });
});
