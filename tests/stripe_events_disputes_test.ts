import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  earlyFraudWarningObject,
  paymentStory,
  reviewObject,
  stripeEvent,
  T0,
  testId,
} from "./helpers/stripe_objects.ts";
import { allLedgerEntries, listBalances } from "../kv/customers.ts";
import { auditEntries } from "./helpers/identity.ts";

async function paid(t: TestApp, customer: string, amount = 8000) {
  const story = paymentStory({ customer, amount });
  for (const e of [story.created(T0), ...story.succeeded(T0 + 1)]) {
    await t.services.stripeEvents.apply(e);
  }
  return story;
}

const disputeActions = async (t: TestApp) =>
  (await auditEntries(t.kv)).map((e) => e.action).filter((a) => a.startsWith("dispute."));

Deno.test("a dispute and its withdrawal show on the transaction, the ledger and the audit log", async () => {
  await withTestApp(async (t) => {
    const story = await paid(t, "cus_Dispute1");
    const du = testId("du");
    const at = T0 + 86400;
    await t.services.stripeEvents.apply(story.dispute(at, "charge.dispute.created", { id: du }));
    await t.services.stripeEvents.apply(
      story.dispute(at, "charge.dispute.funds_withdrawn", { id: du, withdrawn: true, created: at }),
    );
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.dispute_status, "needs_response");
    assert.equal(txn.amount_disputed, 8000);
    assert.equal(txn.status, "succeeded");
    const ledger = await allLedgerEntries(t.kv, "cus_Dispute1");
    assert.deepEqual(ledger.map((e) => [e.type, e.amount, e.stripe_object]), [
      ["payment", 8000, story.ch],
      ["dispute_withdrawal", -8000, du],
    ]);
    assert.deepEqual(await disputeActions(t), [
      "dispute.stripe_opened",
      "dispute.funds_withdrawn",
    ]);
    const agg = await t.services.customers.aggregates("cus_Dispute1");
    assert.equal(agg?.totals.disputes, 1);
  });
});

Deno.test("a won dispute gives the funds back; late older events change nothing", async () => {
  await withTestApp(async (t) => {
    const story = await paid(t, "cus_Dispute2");
    const du = testId("du");
    const at = T0 + 86400;
    const opened = story.dispute(at, "charge.dispute.created", { id: du, created: at });
    const withdrawn = story.dispute(at, "charge.dispute.funds_withdrawn", {
      id: du,
      created: at,
      withdrawn: true,
    });
    const submitted = story.dispute(at + 3600, "charge.dispute.updated", {
      id: du,
      created: at,
      withdrawn: true,
      status: "under_review",
      submission_count: 1,
    });
    const wonState = {
      id: du,
      created: at,
      withdrawn: true,
      reinstated: true,
      status: "won",
      submission_count: 1,
    };
    const won = story.dispute(at + 86400, "charge.dispute.closed", wonState);
    const reinstated = story.dispute(at + 86400, "charge.dispute.funds_reinstated", wonState);
    for (const e of [opened, withdrawn, submitted, won, reinstated]) {
      await t.services.stripeEvents.apply(e);
    }
    let txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.dispute_status, "won");
    assert.equal(txn.amount_disputed, 0);
    // redelivered older events
    assert.equal((await t.services.stripeEvents.apply(submitted)).applied, false);
    const replayOpened = await t.services.stripeEvents.apply(
      story.dispute(at, "charge.dispute.updated", { id: du, created: at }),
    );
    assert.equal(replayOpened.applied, false);
    txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.dispute_status, "won");
    const ledger = await allLedgerEntries(t.kv, "cus_Dispute2");
    assert.deepEqual(ledger.map((e) => [e.type, e.amount]), [
      ["payment", 8000],
      ["dispute_withdrawal", -8000],
      ["dispute_reinstatement", 8000],
    ]);
    assert.equal((await listBalances(t.kv, "cus_Dispute2"))[0].amount, 8000);
    assert.deepEqual(await disputeActions(t), [
      "dispute.stripe_opened",
      "dispute.funds_withdrawn",
      "dispute.stripe_status_changed",
      "dispute.stripe_status_changed",
      "dispute.funds_reinstated",
    ]);
  });
});

Deno.test("a lost dispute keeps the amount disputed and the funds withdrawn", async () => {
  await withTestApp(async (t) => {
    const story = await paid(t, "cus_Dispute3", 3000);
    const du = testId("du");
    await t.services.stripeEvents.apply(
      story.dispute(T0 + 10, "charge.dispute.closed", { id: du, status: "lost", withdrawn: true }),
    );
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.dispute_status, "lost");
    assert.equal(txn.amount_disputed, 3000);
    assert.equal((await listBalances(t.kv, "cus_Dispute3"))[0].amount, 0);
  });
});

Deno.test("early fraud warnings and reviews are kept as risk signals and counted", async () => {
  await withTestApp(async (t) => {
    const story = await paid(t, "cus_Risk1");
    const efw = earlyFraudWarningObject({ charge: story.ch, payment_intent: story.pi });
    const review = reviewObject({ charge: story.ch, payment_intent: story.pi });
    await t.services.stripeEvents.apply(
      stripeEvent("radar.early_fraud_warning.created", efw, T0 + 100),
    );
    await t.services.stripeEvents.apply(stripeEvent("review.opened", review, T0 + 100));
    await t.services.stripeEvents.apply(
      stripeEvent(
        "radar.early_fraud_warning.updated",
        earlyFraudWarningObject({
          id: efw.id,
          charge: story.ch,
          payment_intent: story.pi,
          actionable: false,
        }),
        T0 + 200,
      ),
    );
    await t.services.stripeEvents.apply(
      stripeEvent(
        "review.closed",
        reviewObject({ id: review.id, charge: story.ch, payment_intent: story.pi, open: false }),
        T0 + 300,
      ),
    );
    // the opened event again, late: the review stays closed
    await t.services.stripeEvents.apply(stripeEvent("review.opened", review, T0 + 100));
    const txn = await t.services.transactions.get(story.pi);
    assert.deepEqual(txn.risk_signals.early_fraud_warnings.map((w) => [w.id, w.actionable]), [
      [efw.id, false],
    ]);
    assert.deepEqual(txn.risk_signals.reviews.map((r) => [r.id, r.open, r.closed_reason]), [
      [review.id, false, "approved"],
    ]);
    const agg = await t.services.customers.aggregates("cus_Risk1");
    assert.equal(agg?.totals.early_fraud_warnings, 1);
    assert.equal(agg?.totals.reviews_opened, 1);
    assert.deepEqual(await disputeActions(t), []); // signals are not audited
  });
});
