import assert from "node:assert/strict";
import Stripe from "stripe";
import { withEmulator, withWebhookReceiver } from "./helpers/emulator.ts";
import { assertEventShape, assertShape } from "./fixtures/stripe_shapes.ts";

function authorize(stripe: Stripe, amount = 5000) {
  return stripe.paymentIntents.create({
    amount,
    currency: "usd",
    payment_method: "pm_card_visa",
    capture_method: "manual",
    confirm: true,
  });
}

function unexpectedState(e: Stripe.errors.StripeError) {
  return e instanceof Stripe.errors.StripeInvalidRequestError && e.statusCode === 400 &&
    e.code === "payment_intent_unexpected_state";
}

Deno.test("capture: manual capture authorizes only, then captures in full", async () => {
  await withEmulator(async ({ stripe }) => {
    const pi = await authorize(stripe);
    assert.equal(pi.status, "requires_capture");
    assert.equal(pi.amount_capturable, 5000);
    assert.equal(pi.amount_received, 0);
    let charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.captured, false);
    assert.equal(charge.amount_captured, 0);
    assert.equal(charge.balance_transaction, null);
    assert.equal(charge.status, "succeeded");
    assert.ok((charge.payment_method_details?.card?.capture_before ?? 0) > charge.created);
    assertShape(charge);
    const captured = await stripe.paymentIntents.capture(pi.id);
    assert.equal(captured.status, "succeeded");
    assert.equal(captured.amount_received, 5000);
    assert.equal(captured.amount_capturable, 0);
    charge = await stripe.charges.retrieve(pi.latest_charge as string, {
      expand: ["balance_transaction"],
    });
    assert.equal(charge.captured, true);
    assert.equal(charge.amount_captured, 5000);
    assert.equal(charge.amount_refunded, 0);
    const txn = charge.balance_transaction as Stripe.BalanceTransaction;
    assert.equal(txn.amount, 5000);
    assert.equal(txn.fee, 175);
    assert.equal(txn.fee_details[0].type, "stripe_fee");
    assertShape(charge);
    await assert.rejects(stripe.paymentIntents.capture(pi.id), unexpectedState);
  });
});

Deno.test("capture: a partial capture releases the rest, which can't be refunded", async () => {
  await withEmulator(async ({ stripe }) => {
    const pi = await authorize(stripe, 1000);
    await assert.rejects(
      stripe.paymentIntents.capture(pi.id, { amount_to_capture: 1001 }),
      (e: Stripe.errors.StripeError) => e.param === "amount_to_capture",
    );
    const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 600 });
    assert.equal(captured.amount_received, 600);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.amount_captured, 600);
    assert.equal(charge.amount_refunded, 400);
    assert.equal(charge.refunded, false);
    await assert.rejects(
      stripe.refunds.create({ payment_intent: pi.id, amount: 601 }),
      (e: Stripe.errors.StripeError) => e.code === "amount_too_large",
    );
    const refund = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(refund.amount, 600);
    const after = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(after.amount_refunded, 1000);
    assert.equal(after.refunded, true);
  });
});

Deno.test("capture: cancel releases the authorization with the given reason", async () => {
  await withEmulator(async ({ stripe }) => {
    const pi = await authorize(stripe);
    const canceled = await stripe.paymentIntents.cancel(pi.id, {
      cancellation_reason: "requested_by_customer",
    });
    assert.equal(canceled.status, "canceled");
    assert.equal(canceled.cancellation_reason, "requested_by_customer");
    assert.equal(canceled.amount_capturable, 0);
    assert.ok(canceled.canceled_at);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.refunded, true);
    assert.equal(charge.amount_refunded, 5000);
    assert.equal(charge.captured, false);
    await assert.rejects(stripe.paymentIntents.capture(pi.id), unexpectedState);
    await assert.rejects(stripe.paymentIntents.cancel(pi.id), unexpectedState);
    const succeeded = await stripe.paymentIntents.create({
      amount: 100,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    await assert.rejects(stripe.paymentIntents.cancel(succeeded.id), unexpectedState);
  });
});

Deno.test("capture: an authorization lapses after 7 days (charge.expired)", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const pi = await authorize(stripe);
    emu.advanceClock(6 * 24 * 3600);
    assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, "requires_capture");
    emu.advanceClock(24 * 3600);
    const expired = await stripe.paymentIntents.retrieve(pi.id);
    assert.equal(expired.status, "canceled");
    assert.equal(expired.cancellation_reason, "automatic");
    const types = (await stripe.events.list({ limit: 100 })).data.map((e) => e.type);
    assert.ok(types.includes("charge.expired"));
  });
});

Deno.test("capture: events in Stripe's order, shaped like the SDK's types", async () => {
  await withWebhookReceiver(async (receiver) => {
    await withEmulator(async ({ stripe, emu }) => {
      emu.setWebhook({ url: receiver.url, secret: receiver.secret });
      const pi = await authorize(stripe);
      await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 3000 });
      const other = await authorize(stripe);
      await stripe.paymentIntents.cancel(other.id);
      await emu.deliveries();
      // Deliveries run one chain per object, so creation order is the events list's.
      const created = (await stripe.events.list({ limit: 100 })).data.reverse();
      const mine = (id: string) =>
        created.filter((e) => {
          const o = e.data.object as { id: string; payment_intent?: string };
          return o.id === id || o.payment_intent === id;
        }).map((e) => e.type);
      assert.deepEqual(mine(pi.id), [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "charge.captured",
        "payment_intent.succeeded",
      ]);
      assert.deepEqual(mine(other.id), [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "charge.refunded",
        "payment_intent.canceled",
      ]);
      const captured = receiver.events.find((e) => e.type === "charge.captured")!;
      assert.deepEqual(
        Object.keys(captured.data.previous_attributes ?? {}).sort(),
        [
          "amount_captured",
          "amount_refunded",
          "balance_transaction",
          "captured",
          "payment_method_details",
        ],
      );
      for (const e of receiver.events) assertEventShape(e);
    });
  });
});

Deno.test("capture: legacy charges capture with capture=false and /capture", async () => {
  await withEmulator(async ({ stripe }) => {
    const charge = await stripe.charges.create({
      amount: 2000,
      currency: "usd",
      source: "tok_visa",
      capture: false,
    });
    assert.equal(charge.captured, false);
    assertShape(charge);
    const captured = await stripe.charges.capture(charge.id, { amount: 1500 });
    assert.equal(captured.captured, true);
    assert.equal(captured.amount_captured, 1500);
    assert.equal(captured.amount_refunded, 500);
    assertShape(captured);
    await assert.rejects(
      stripe.charges.capture(charge.id),
      (e: Stripe.errors.StripeError) => e.code === "charge_already_captured",
    );
    const pi = await authorize(stripe);
    await assert.rejects(
      stripe.charges.capture(pi.latest_charge as string),
      (e: Stripe.errors.StripeError) => e.code === "charge_not_capturable",
    );
  });
});
