import assert from "node:assert/strict";
import type Stripe from "stripe";
import { withTestApp } from "./helpers/app.ts";
import { customerObject, paymentStory, stripeEvent, T0 } from "./helpers/stripe_objects.ts";

Deno.test("customer.updated wins over an older customer event, whatever the arrival order", async () => {
  await withTestApp(async (t) => {
    const c = customerObject({ email: "old@example.com", name: "Old Name" });
    const updated = { ...c, email: "jane.doe@example.com", name: "Jane Doe" } as Stripe.Customer;
    const a = await t.services.stripeEvents.apply(
      stripeEvent("customer.updated", updated, T0 + 60),
    );
    assert.equal(a.applied, true);
    const late = await t.services.stripeEvents.apply(stripeEvent("customer.created", c, T0));
    assert.equal(late.applied, false);
    assert.match(late.detail, /stale/);
    const view = await t.services.customers.get(c.id, { limit: 10 });
    assert.equal(view.customer.email, "j***@example.com"); // masked
    assert.equal(view.customer.name, "Jane Doe");
    assert.equal(view.customer.created, new Date(T0 * 1000).toISOString());
  });
});

Deno.test("customers.get() shows balances, the ledger page by page, aggregates and alerts", async () => {
  await withTestApp(async (t) => {
    const cus = customerObject({ email: "buyer@example.com" });
    await t.services.stripeEvents.apply(stripeEvent("customer.created", cus, T0));
    for (let i = 0; i < 3; i++) {
      const story = paymentStory({ customer: cus.id, amount: 1000 * (i + 1) });
      for (const e of story.succeeded(T0 + i)) await t.services.stripeEvents.apply(e);
    }
    // the fraud service's index of open alerts (records it will own)
    await t.kv.atomic()
      .set(["fraud_alerts", "fa_01TEST"], { id: "fa_01TEST", customer: cus.id, status: "open" })
      .set(["fraud_alerts_by_customer", cus.id, "fa_01TEST"], "fa_01TEST")
      .commit();
    const first = await t.services.customers.get(cus.id, { limit: 2 });
    assert.deepEqual(first.balances, [{ currency: "usd", amount: 6000, entries: 3 }]);
    assert.deepEqual(first.ledger.data.map((e) => e.amount), [3000, 2000]); // newest first
    assert.ok(first.ledger.next_cursor);
    const second = await t.services.customers.get(cus.id, {
      limit: 2,
      cursor: first.ledger.next_cursor!,
    });
    assert.deepEqual(second.ledger.data.map((e) => e.amount), [1000]);
    assert.equal(second.ledger.next_cursor, null);
    assert.equal(first.aggregates?.totals.payments, 3);
    assert.equal(first.aggregates?.last_24h.payments, 3);
    assert.deepEqual(first.open_alerts, [{ id: "fa_01TEST", customer: cus.id, status: "open" }]);
  });
});

Deno.test("customers.get() of a customer never seen is not_found", async () => {
  await withTestApp(async (t) => {
    await assert.rejects(
      () => t.services.customers.get("cus_Nobody", { limit: 10 }),
      (e: { code?: string }) => e.code === "not_found",
    );
  });
});
