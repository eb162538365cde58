import assert from "node:assert/strict";
import { confirmedPayment } from "./helpers/emulator.ts";
import type Stripe from "stripe";
import { createTestApp, type TestApp, withTestApp } from "./helpers/app.ts";
import { paymentStory, T0 } from "./helpers/stripe_objects.ts";
import { allLedgerEntries, listBalances } from "../kv/customers.ts";
import { auditEntries } from "./helpers/identity.ts";
import { createStripeEventApplier, type RefundSettlementHook } from "../services/ingest/applier.ts";
import type { Transaction } from "../domain/transaction.ts";
import { refundableOf } from "../services/refunds/refundable.ts";
import { listAllOpsAlerts } from "../kv/ops_alerts.ts";

async function paid(t: TestApp, customer: string, amount = 5000) {
  const story = paymentStory({ customer, amount });
  for (const e of [story.created(T0), ...story.succeeded(T0 + 1)]) {
    await t.services.stripeEvents.apply(e);
  }
  return story;
}

async function balanceMatchesLedger(t: TestApp, customer: string): Promise<number> {
  const entries = await allLedgerEntries(t.kv, customer);
  const [balance] = await listBalances(t.kv, customer);
  const sum = entries.reduce((n, e) => n + e.amount, 0);
  assert.equal(balance.amount, sum, "balance == sum of ledger entries");
  assert.equal(balance.entries, entries.length);
  return sum;
}

Deno.test("a Stripe refund is counted once, posted to the ledger and audited", async () => {
  await withTestApp(async (t) => {
    const story = await paid(t, "cus_Refund1");
    const { created, chargeRefunded } = story.refund(T0 + 60, 1500);
    assert.equal((await t.services.stripeEvents.apply(created)).applied, true);
    // charge.refunded names the same refund: nothing more to count
    assert.equal((await t.services.stripeEvents.apply(chargeRefunded)).applied, true);
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.amount_refunded, 1500);
    assert.equal(txn.status, "succeeded");
    const ledger = await allLedgerEntries(t.kv, "cus_Refund1");
    assert.deepEqual(ledger.map((e) => [e.type, e.amount]), [["payment", 5000], ["refund", -1500]]);
    assert.equal(await balanceMatchesLedger(t, "cus_Refund1"), 3500);

    // (the refunds service's hook adds its own entries; these are the applier's)
    const audit = (await auditEntries(t.kv)).filter((e) => e.action.startsWith("refund.stripe_"));
    assert.equal(audit.length, 1);
    assert.equal(audit[0].action, "refund.stripe_settled");
    assert.deepEqual(audit[0].actor, { type: "stripe", id: "stripe", role: null });
    assert.equal(audit[0].request_id, created.id);
    assert.deepEqual(audit[0].target, { type: "transaction", id: txn.id });
    assert.equal((audit[0].after as { amount_refunded: number }).amount_refunded, 1500);
  });
});

Deno.test("a refund failing after it succeeded is un-applied on the ledger", async () => {
  await withTestApp(async (t) => {
    const story = await paid(t, "cus_Refund2");
    const { refund, created } = story.refund(T0 + 60, 2000);
    await t.services.stripeEvents.apply(created);
    assert.equal((await t.services.transactions.get(story.pi)).amount_refunded, 2000);
    await t.services.stripeEvents.apply(story.refundUpdated(T0 + 3600, refund, "failed"));
    // the three events Stripe sends for one failure change it once
    const dup = await t.services.stripeEvents.apply(
      story.refundUpdated(T0 + 3600, refund, "failed", "refund.failed"),
    );
    assert.equal(dup.applied, false);
    await t.services.stripeEvents.apply(
      story.refundUpdated(T0 + 3600, refund, "failed", "charge.refund.updated"),
    );
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.amount_refunded, 0);
    const ledger = await allLedgerEntries(t.kv, "cus_Refund2");
    assert.deepEqual(ledger.map((e) => [e.type, e.amount, e.stripe_object]), [
      ["payment", 5000, story.ch],
      ["refund", -2000, refund.id],
      ["refund_reversal", 2000, refund.id],
    ]);
    assert.equal(await balanceMatchesLedger(t, "cus_Refund2"), 5000);
    const actions = (await auditEntries(t.kv)).map((e) => e.action)
      .filter((a) => a.startsWith("refund.stripe_"));
    assert.deepEqual(actions, ["refund.stripe_settled", "refund.stripe_failed"]);
    // a late redelivery of the success does not count it again
    const late = await t.services.stripeEvents.apply(created);
    assert.equal(late.applied, false);
    assert.equal((await t.services.transactions.get(story.pi)).amount_refunded, 0);
  });
});

Deno.test("a refund whose failure arrives before its creation is not counted; its ledger as in order", async () => {
  await withTestApp(async (t) => {
    const story = await paid(t, "cus_Refund3");
    const { refund, created } = story.refund(T0 + 60, 700, { status: "pending" });
    await t.services.stripeEvents.apply(story.refundUpdated(T0 + 120, refund, "failed"));
    await t.services.stripeEvents.apply(created);
    assert.equal((await t.services.transactions.get(story.pi)).amount_refunded, 0);
    // Stripe accepted it (pending) before it failed: its entry and the reversal, as when the
    // events come in order (README, "Transactions and money edges"); the balance is the payment's
    const ledger = await allLedgerEntries(t.kv, "cus_Refund3");
    assert.deepEqual(
      ledger.map((e) => [e.type, e.amount]).sort(),
      [
        ["payment", story.amount],
        ["refund", -700],
        ["refund_reversal", 700],
      ].sort(),
    );
  });
});

Deno.test("charge.refunded listing its refunds counts them without refund events", async () => {
  await withTestApp(async (t) => {
    const story = await paid(t, "cus_Refund4");
    const first = story.refund(T0 + 60, 1000);
    const second = story.refund(T0 + 90, 500);
    // only the latest charge.refunded arrives (it lists both refunds), then the refund events
    await t.services.stripeEvents.apply(second.chargeRefunded);
    assert.equal((await t.services.transactions.get(story.pi)).amount_refunded, 1500);
    await t.services.stripeEvents.apply(first.created);
    await t.services.stripeEvents.apply(second.created);
    await t.services.stripeEvents.apply(first.chargeRefunded);
    assert.equal((await t.services.transactions.get(story.pi)).amount_refunded, 1500);
    assert.equal(await balanceMatchesLedger(t, "cus_Refund4"), 3500);
  });
});

Deno.test("a refund seen before its payment makes a stub that the payment completes", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Stub1", amount: 3000 });
    const { created } = story.refund(T0 + 60, 1000);
    await t.services.stripeEvents.apply(created);
    const stub = await t.services.transactions.get(story.pi);
    assert.equal(stub.status, "unknown");
    assert.equal(stub.amount_refunded, 1000);
    // what the refund proves was captured, and nothing left to refund until the payment is known
    assert.equal(stub.amount_captured, 1000);
    assert.equal(stub.amount, 1000);
    assert.equal(refundableOf(stub), 0);
    assert.equal(stub.customer, null); // a refund does not name the customer
    for (const e of [story.created(T0), ...story.succeeded(T0 + 1)]) {
      await t.services.stripeEvents.apply(e);
    }
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.id, stub.id);
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.customer, "cus_Stub1");
    assert.equal(txn.created, new Date(T0 * 1000).toISOString());
    const ledger = await allLedgerEntries(t.kv, "cus_Stub1");
    assert.deepEqual(ledger.map((e) => [e.type, e.amount]).sort(), [
      ["payment", 3000],
      ["refund", -1000],
    ]);
    assert.equal(await balanceMatchesLedger(t, "cus_Stub1"), 2000);
  });
});

Deno.test("the refund settlement hook runs in the same commit and may release a reservation", async () => {
  await withTestApp(async (t) => {
    const calls: { refund: string; refundId: string | null; reserved: number }[] = [];
    const hook: RefundSettlementHook = (op, stripeRefund, txn, change) => {
      calls.push({
        refund: stripeRefund.id,
        refundId: change.after.refund_id,
        reserved: txn.amount_reserved,
      });
      // the refunds service would settle its record here; this one marks a key
      op.set(["test_refund_settled", stripeRefund.id], change.after.status);
      txn.amount_reserved = 0;
      return Promise.resolve([{
        action: "refund.settle",
        target: { type: "refund", id: change.after.refund_id ?? "dashboard" },
        result: "ok",
      }]);
    };
    const applier = createStripeEventApplier(t.deps, {
      audit: t.services.audit,
      newId: t.services.newId,
      refundSettlement: hook,
    });
    const story = paymentStory({ customer: "cus_Hook1" });
    for (const e of [story.created(T0), ...story.succeeded(T0 + 1)]) await applier.apply(e);
    // as if the refunds service had reserved 900 before calling Stripe
    const key = ["transactions", (await t.services.transactions.get(story.pi)).id];
    const entry = await t.kv.get<Transaction>(key);
    await t.kv.set(key, { ...entry.value!, amount_reserved: 900 });

    const { refund, created } = story.refund(T0 + 60, 900, { refund_id: "rfd_01TEST" });
    await applier.apply(created);
    assert.deepEqual(calls, [{ refund: refund.id, refundId: "rfd_01TEST", reserved: 900 }]);
    assert.equal((await t.kv.get(["test_refund_settled", refund.id])).value, "succeeded");
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.amount_reserved, 0);
    assert.equal(txn.amount_refunded, 900);
    const actions = (await auditEntries(t.kv)).map((e) => e.action);
    assert.deepEqual(actions, ["refund.stripe_settled", "refund.settle"]);
  });
});

Deno.test("charge.refunded naming refunds not yet seen reads them from Stripe", async () => {
  const { withGateway } = await import("./helpers/stripe_gateway.ts");
  await withGateway(async ({ emu, gateway }) => {
    const { stripeFor } = await import("./helpers/emulator.ts");
    const stripe = stripeFor(emu);
    const t = await createTestApp({ stripe: gateway });
    try {
      const customer = await stripe.customers.create({ email: "refetch@example.com" });
      const pi = await confirmedPayment(stripe, { amount: 2500, customer: customer.id });
      const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 600 });
      const charge = await stripe.charges.retrieve(pi.latest_charge as string);
      const event = (type: string, object: unknown, created: number) =>
        ({
          id: `evt_refetch_${type}`,
          object: "event",
          created,
          type,
          data: { object },
          request: { id: null, idempotency_key: null },
        }) as unknown as Stripe.Event;
      await t.services.stripeEvents.apply(event("payment_intent.succeeded", pi, pi.created));
      // charge.refunded (no refunds list in this API version); refund.created never arrives
      await t.services.stripeEvents.apply(event("charge.refunded", charge, charge.created + 1));
      const txn = await t.services.transactions.get(pi.id);
      assert.equal(txn.amount_refunded, 600);
      const ledger = await allLedgerEntries(t.kv, customer.id);
      assert.deepEqual(ledger.map((e) => [e.type, e.amount, e.stripe_object]), [
        ["payment", 2500, pi.latest_charge],
        ["refund", -600, refund.id],
      ]);
    } finally {
      await t.close();
    }
  });
});

Deno.test("a Dashboard refund first seen failed raises the same ops alert as one seen pending, then failed", async () => {
  for (const order of ["pending first", "failed first"]) {
    await withTestApp(async (t) => {
      const story = await paid(t, "cus_RefundAlert");
      const { refund, created } = story.refund(T0 + 60, 1000, { status: "pending" });
      const failed = story.refundUpdated(T0 + 3600, refund, "failed");
      const events = order === "pending first" ? [created, failed] : [failed, created];
      for (const e of events) await t.services.stripeEvents.apply(e);
      assert.equal((await t.services.transactions.get(story.pi)).amount_refunded, 0, order);
      const alerts = await listAllOpsAlerts(t.kv);
      assert.deepEqual(alerts.map((a) => [a.kind, a.stripe_refund]), [
        ["refund_failed_after_success", refund.id],
      ], order);
      assert.equal(await balanceMatchesLedger(t, "cus_RefundAlert"), 5000, order);
    });
  }
});
