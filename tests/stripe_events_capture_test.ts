/**
 * Captured amounts and the total order of snapshots: what was captured is
 * what can be refunded, and snapshots of equal time never go back to an
 * earlier state because of the order they arrived in.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { withTestApp } from "./helpers/app.ts";
import { createAdmin } from "./helpers/identity.ts";
import {
  chargeObject,
  paymentIntentObject,
  paymentStory,
  refundObject,
} from "./helpers/stripe_objects.ts";
import { stripeEvent, T0, testId } from "./helpers/stripe_objects.ts";
import { allLedgerEntries } from "../kv/customers.ts";
import { AppError } from "../core/errors.ts";

function uncaptured(o: Parameters<typeof chargeObject>[0]): Stripe.Charge {
  return { ...chargeObject(o), captured: false, amount_captured: 0 } as Stripe.Charge;
}

for (const order of ["captured first", "uncaptured first"]) {
  Deno.test(`a legacy charge captured in the second it was authorized stays captured (${order})`, async () => {
    await withTestApp(async (t) => {
      const ch = testId("ch");
      const o = { id: ch, customer: "cus_Capture1", amount: 2000, created: T0 };
      const captured = stripeEvent("charge.captured", chargeObject(o), T0);
      const succeeded = stripeEvent("charge.succeeded", uncaptured(o), T0);
      const events = order === "captured first" ? [captured, succeeded] : [succeeded, captured];
      for (const e of events) await t.services.stripeEvents.apply(e);
      const txn = await t.services.transactions.get(ch);
      assert.equal(txn.status, "succeeded");
      assert.equal(txn.amount_captured, 2000);
      assert.equal(txn.amount_capturable, 0);
      const ledger = await allLedgerEntries(t.kv, "cus_Capture1");
      assert.equal(ledger.reduce((n, e) => n + e.amount, 0), 2000, "the payment stays posted");
    });
  });
}

Deno.test("an authorized PaymentIntent shows what can be captured and nothing refundable", async () => {
  await withTestApp(async (t) => {
    const pi = paymentIntentObject({ amount: 1000, status: "requires_capture", customer: "cus_A" });
    (pi as unknown as { amount_capturable: number }).amount_capturable = 1000;
    await t.services.stripeEvents.apply(
      stripeEvent("payment_intent.amount_capturable_updated", pi, T0),
    );
    const txn = await t.services.transactions.get(pi.id);
    assert.equal(txn.status, "requires_capture");
    assert.equal(txn.amount, 1000);
    assert.equal(txn.amount_capturable, 1000);
    assert.equal(txn.amount_captured, 0);
  });
});

Deno.test("a partial capture: refundable from the 600 captured, not the 1000 authorized", async () => {
  await withTestApp(async (t) => {
    const ch = testId("ch");
    const pi = paymentIntentObject({
      amount: 1000,
      status: "succeeded",
      customer: "cus_Partial1",
      latest_charge: ch,
    });
    (pi as unknown as { amount_received: number }).amount_received = 600;
    const charge = {
      ...chargeObject({ id: ch, payment_intent: pi.id, amount: 1000, customer: "cus_Partial1" }),
      amount_captured: 600,
    } as Stripe.Charge;
    await t.services.stripeEvents.apply(stripeEvent("charge.captured", charge, T0 + 5));
    await t.services.stripeEvents.apply(stripeEvent("payment_intent.succeeded", pi, T0 + 5));
    const txn = await t.services.transactions.get(pi.id);
    assert.equal(txn.amount, 1000);
    assert.equal(txn.amount_captured, 600);
    assert.equal(txn.amount_capturable, 0);
    assert.equal(txn.amount_refunded, 0);
    const ledger = await allLedgerEntries(t.kv, "cus_Partial1");
    assert.deepEqual(ledger.map((e) => [e.type, e.amount]), [["payment", 600]]);

    const operator = await createAdmin(t, "operator");
    const ctx = {
      actor: { type: "admin" as const, id: operator.id, role: operator.role },
      request: { request_id: "req_partial", ip: null, user_agent: null },
      second_factor: true,
    };
    await assert.rejects(
      t.services.refunds.create(ctx, {
        transaction_id: txn.id,
        amount: 700,
        reason: "requested_by_customer",
        note: "more than was captured",
      }),
      (e) => {
        assert.ok(e instanceof AppError);
        assert.equal(e.code, "amount_exceeds_refundable");
        assert.equal(e.extra?.refundable, 600);
        return true;
      },
    );
    assert.equal((await t.services.transactions.get(pi.id)).amount_reserved, 0);
  });
});

Deno.test("a refund seen before its payment never shows more refunded than captured", async () => {
  await withTestApp(async (t) => {
    const story = paymentStory({ customer: "cus_Stub9", amount: 3000 });
    const { created } = story.refund(T0 + 60, 1000);
    await t.services.stripeEvents.apply(created);
    const stub = await t.services.transactions.get(story.pi);
    assert.equal(stub.status, "unknown");
    assert.equal(stub.amount_refunded, 1000);
    assert.ok(stub.amount_refunded <= stub.amount_captured);
    assert.ok(stub.amount_captured <= stub.amount);
    await t.services.stripeEvents.apply(story.created(T0));
    const pending = await t.services.transactions.get(story.pi);
    assert.ok(pending.amount_refunded <= pending.amount_captured);
    for (const e of story.succeeded(T0 + 1)) await t.services.stripeEvents.apply(e);
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.amount_captured, 3000);
    assert.equal(txn.amount_refunded, 1000);
  });
});

Deno.test("charge.refunded after a partial capture counts the released rest without asking Stripe", async () => {
  // the test app's gateway refuses every call: a read-back would fail the event
  await withTestApp(async (t) => {
    const ch = testId("ch");
    const o = { id: ch, customer: "cus_Partial2", amount: 1000 };
    const released = { ...chargeObject(o), amount_captured: 600, amount_refunded: 400 };
    const result = await t.services.stripeEvents.apply(
      stripeEvent("charge.refunded", released as Stripe.Charge, T0 + 5),
    );
    assert.equal(result.applied, true);
    const txn = await t.services.transactions.get(ch);
    assert.equal(txn.amount_captured, 600);
    assert.equal(txn.amount_refunded, 0);
  });
});

/** Every order of `items`. */
function orders<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) =>
    orders([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest])
  );
}

Deno.test("a legacy authorization released by a refund (nothing captured) ends canceled, nothing captured or refunded, in every order", async () => {
  const ch = testId("ch");
  const o = { id: ch, payment_intent: null, customer: "cus_Release1", amount: 5000, created: T0 };
  const authorized = stripeEvent("charge.succeeded", uncaptured(o), T0);
  // Stripe releases an uncaptured charge that is refunded: no money moved, so no balance
  // transaction, and the charge stays uncaptured with all of it "refunded"
  const release = {
    ...refundObject({ charge: ch, payment_intent: null, amount: 5000, created: T0 + 60 }),
    balance_transaction: null,
  } as Stripe.Refund;
  const refundCreated = stripeEvent("refund.created", release, T0 + 60);
  const released = stripeEvent(
    "charge.refunded",
    { ...uncaptured({ ...o, amount_refunded: 5000 }), refunded: true } as Stripe.Charge,
    T0 + 60,
  );
  for (const events of orders([authorized, refundCreated, released])) {
    await withTestApp(async (t) => {
      for (const e of events) await t.services.stripeEvents.apply(e);
      const txn = await t.services.transactions.get(ch);
      const order = events.map((e) => e.type).join(", ");
      assert.equal(txn.status, "canceled", order);
      assert.equal(txn.amount_captured, 0, order);
      assert.equal(txn.amount_refunded, 0, order);
      assert.equal(txn.amount_capturable, 0, order);
      const ledger = await allLedgerEntries(t.kv, "cus_Release1");
      assert.equal(ledger.reduce((n, e) => n + e.amount, 0), 0, `${order}: no money moved`);
    });
  }
});
