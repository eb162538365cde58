import assert from "node:assert/strict";
import Stripe from "stripe";
import { withEmulator } from "./helpers/emulator.ts";

function pay(stripe: Stripe, pm = "pm_card_visa", amount = 5000) {
  return stripe.paymentIntents.create({
    amount,
    currency: "usd",
    payment_method: pm,
    confirm: true,
  });
}

function invalid(code: string, pattern?: RegExp) {
  return (e: Stripe.errors.StripeError) =>
    e instanceof Stripe.errors.StripeInvalidRequestError && e.code === code &&
    (!pattern || pattern.test(e.message));
}

Deno.test("emulator: partial then full refunds, and nothing beyond the remainder", async () => {
  await withEmulator(async ({ stripe }) => {
    const pi = await pay(stripe);
    const first = await stripe.refunds.create({
      payment_intent: pi.id,
      amount: 1500,
      reason: "requested_by_customer",
      metadata: { refund_id: "rfd_1" },
    });
    assert.equal(first.status, "succeeded");
    assert.equal(first.amount, 1500);
    assert.equal(first.charge, pi.latest_charge);
    assert.deepEqual(first.metadata, { refund_id: "rfd_1" });
    let charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.amount_refunded, 1500);
    assert.equal(charge.refunded, false);

    await assert.rejects(
      stripe.refunds.create({ payment_intent: pi.id, amount: 3501 }),
      invalid("amount_too_large", /3500/),
    );
    const rest = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(rest.amount, 3500);
    charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.amount_refunded, 5000);
    assert.equal(charge.refunded, true);
    await assert.rejects(
      stripe.refunds.create({ payment_intent: pi.id, amount: 1 }),
      invalid("charge_already_refunded"),
    );
    const listed = await stripe.refunds.list({ payment_intent: pi.id });
    assert.deepEqual(listed.data.map((r) => r.id), [rest.id, first.id]);
    const updated = await stripe.refunds.update(first.id, { metadata: { note: "x" } });
    assert.deepEqual(updated.metadata, { refund_id: "rfd_1", note: "x" });
  });
});

Deno.test("emulator: a charge made without a PaymentIntent is refunded by charge", async () => {
  await withEmulator(async ({ stripe }) => {
    const charge = await stripe.charges.create({
      amount: 800,
      currency: "usd",
      source: "tok_visa",
    });
    const refund = await stripe.refunds.create({ charge: charge.id, amount: 300 });
    assert.equal(refund.payment_intent, null);
    assert.equal(refund.charge, charge.id);
    const list = await stripe.refunds.list({ charge: charge.id });
    assert.equal(list.data.length, 1);
    assert.equal((await stripe.charges.retrieve(charge.id)).amount_refunded, 300);
  });
});

Deno.test("emulator: a refundFail card's refund goes pending then fails", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const pi = await pay(stripe, "pm_card_refundFail", 2000);
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 2000 });
    assert.equal(refund.status, "pending");
    assert.equal((await stripe.charges.retrieve(refund.charge as string)).amount_refunded, 2000);
    await emu.deliveries();
    const failed = await stripe.refunds.retrieve(refund.id);
    assert.equal(failed.status, "failed");
    assert.equal(failed.failure_reason, "expired_or_canceled_card");
    const charge = await stripe.charges.retrieve(refund.charge as string);
    assert.equal(charge.amount_refunded, 0);
    assert.equal(charge.refunded, false);
    const types = (await stripe.events.list({ limit: 100 })).data.map((e) => e.type);
    assert.ok(types.includes("refund.failed"));
    assert.ok(types.includes("charge.refund.updated"));
  }, { refundFailureDelayMs: 100 }); // long enough to see it pending first on any Deno
});

Deno.test("emulator: a pending refund can be canceled, a settled one cannot", async () => {
  await withEmulator(async ({ stripe }) => {
    const pi = await pay(stripe, "pm_card_refundFail", 2000);
    const refund = await stripe.refunds.create({ payment_intent: pi.id });
    const canceled = await stripe.refunds.cancel(refund.id);
    assert.equal(canceled.status, "canceled");
    const ok = await stripe.refunds.create({ payment_intent: (await pay(stripe)).id });
    await assert.rejects(stripe.refunds.cancel(ok.id), Stripe.errors.StripeInvalidRequestError);
  }, { refundFailureDelayMs: 60_000 });
});

Deno.test("emulator: a disputed charge cannot be refunded", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const pi = await pay(stripe, "pm_card_createDispute");
    await emu.deliveries();
    await assert.rejects(
      stripe.refunds.create({ payment_intent: pi.id }),
      invalid("charge_disputed"),
    );
  });
});

Deno.test("emulator: a refundPending card's refund goes pending then succeeds", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const pi = await pay(stripe, "pm_card_refundPending", 2000);
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    assert.equal(refund.status, "pending");
    await emu.deliveries();
    assert.equal((await stripe.refunds.retrieve(refund.id)).status, "succeeded");
    assert.equal((await stripe.charges.retrieve(refund.charge as string)).amount_refunded, 500);
    const types = (await stripe.events.list({ limit: 100 })).data.map((e) => e.type);
    assert.ok(types.includes("refund.updated"));
    assert.ok(types.includes("charge.refund.updated"));
  });
});

Deno.test("emulator: with no settle delay a pending refund waits for settleRefund", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const pi = await pay(stripe, "pm_card_refundPending", 3000);
    const a = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
    const b = await stripe.refunds.create({ payment_intent: pi.id, amount: 700 });
    await emu.deliveries(); // nothing scheduled: both stay pending
    assert.equal((await stripe.refunds.retrieve(a.id)).status, "pending");
    assert.equal(emu.settleRefund(a.id, "succeeded").status, "succeeded");
    const failed = emu.settleRefund(b.id, "failed");
    assert.equal(failed.status, "failed");
    assert.equal(failed.failure_reason, "expired_or_canceled_card");
    // settled once: a second word changes nothing
    assert.equal(emu.settleRefund(b.id, "succeeded").status, "failed");
    assert.equal((await stripe.charges.retrieve(a.charge as string)).amount_refunded, 1000);
  }, { refundFailureDelayMs: null });
});

Deno.test("emulator: an early fraud warning stops being actionable once fully refunded", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const pi = await pay(stripe, "pm_card_createEarlyFraudWarning", 2000);
    await emu.deliveries();
    await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    const [warning] = (await stripe.radar.earlyFraudWarnings.list({ payment_intent: pi.id })).data;
    assert.equal(warning.actionable, true, "a partial refund leaves it actionable");
    await stripe.refunds.create({ payment_intent: pi.id });
    const after = await stripe.radar.earlyFraudWarnings.retrieve(warning.id);
    assert.equal(after.actionable, false);
    const types = (await stripe.events.list({ limit: 100 })).data.map((e) => e.type);
    assert.equal(types.filter((t) => t === "radar.early_fraud_warning.updated").length, 1);
  });
});
