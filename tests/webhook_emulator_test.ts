import assert from "node:assert/strict";
import { confirmedPayment } from "./helpers/emulator.ts";
import { testApplier, useApplier, withEmulatorApp } from "./helpers/webhooks.ts";
import { listJobs } from "../kv/jobs.ts";

Deno.test("signed deliveries from the emulator are accepted end to end, stored once and processed", async () => {
  await withEmulatorApp(async ({ t, stripe, settle }) => {
    const customer = await stripe.customers.create({ email: "lin@example.com" });
    const paid = await confirmedPayment(stripe, { amount: 4200, customer: customer.id });
    await stripe.refunds.create({ payment_intent: paid.id, amount: 1000 });
    await settle();

    const sent = await stripe.events.list({ limit: 100 });
    const page = await t.services.webhooks.list({ limit: 100 });
    assert.deepEqual(
      page.data.map((e) => e.id).sort(),
      sent.data.map((e) => e.id).sort(),
      "every event the emulator sent is in the intake log",
    );
    for (const e of page.data) {
      assert.ok(
        e.status === "processed" || e.status === "ignored",
        `${e.type} ${e.id} is ${e.status}: ${e.last_error}`,
      );
    }
    const types = page.data.map((e) => e.type);
    for (const type of ["customer.created", "payment_intent.succeeded", "charge.refunded"]) {
      assert.ok(types.includes(type), `${type} received`);
    }
    assert.deepEqual(await listJobs(t.kv), []);

    // What the service learnt, only from signed deliveries:
    const txn = await t.services.transactions.get(paid.id);
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.amount, 4200);
    assert.equal(txn.amount_refunded, 1000);
    assert.equal(txn.customer, customer.id);
    const view = await t.services.customers.get(customer.id, { limit: 10 });
    assert.deepEqual(view.balances.map((b) => [b.currency, b.amount]), [["usd", 3200]]);
  });
});

Deno.test("a delivery whose processing fails is still acknowledged; the retry is ours, not Stripe's", async () => {
  await withEmulatorApp(async ({ t, stripe, settle }) => {
    const applier = testApplier(t);
    useApplier(t, applier);
    applier.failNext(Infinity);
    await stripe.customers.create({ email: "sam@example.com" });
    await settle();
    const [sent] = (await stripe.events.list({ limit: 10 })).data;
    assert.equal(sent.type, "customer.created");
    assert.equal(sent.pending_webhooks, 0, "the emulator saw a 2xx and will not redeliver");
    assert.deepEqual(applier.calls, [sent.id]);
    assert.equal((await t.services.webhooks.get(sent.id)).status, "failed");
    const jobs = await listJobs(t.kv);
    assert.deepEqual(jobs.map((j) => j.payload), [{ event_id: sent.id }]);
  });
});
