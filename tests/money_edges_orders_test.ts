/**
 * More money shapes in every order (README "Transactions and money edges",
 * "Money in every event order"): refunds made in Stripe's Dashboard on a charge
 * made without a PaymentIntent, one of them failing; an authorization that
 * lapses after a refund was refused; a chargeback won after a refund was
 * refused; payments in zero- and three-decimal currencies. Played at the
 * emulator through the SDK, delivered as tests/helpers/money_orders.ts says,
 * checked against Stripe's objects to the cent.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { checkEveryOrder, type ShapeCtx } from "./helpers/money_orders.ts";

async function customer(s: ShapeCtx): Promise<string> {
  return (await s.stripe.customers.create({ email: "buyer@example.com" })).id;
}

/** A PaymentIntent in `currency` paid with `pm` (confirmed at once), for a new customer. */
async function paidIn(
  s: ShapeCtx,
  o: { amount: number; currency: string; pm: string; manual?: boolean },
) {
  const cus = await customer(s);
  const pi = await s.stripe.paymentIntents.create({
    amount: o.amount,
    currency: o.currency,
    customer: cus,
    payment_method: o.pm,
    confirm: true,
    ...(o.manual ? { capture_method: "manual" as const } : {}),
  });
  return { customer: cus, pi: pi.id, charge: pi.latest_charge as string };
}

/** Stripe refused the call with `code` (the shape goes on: nothing moved). */
async function refused(call: Promise<unknown>, code: string) {
  await assert.rejects(call, (e: Stripe.errors.StripeError) => e.code === code);
}

Deno.test("money in every order: Dashboard refunds on a charge without a PaymentIntent, pending, one fails", async () => {
  await checkEveryOrder(async (s) => {
    const cus = await customer(s);
    const ch = await s.stripe.charges.create({
      amount: 9000,
      currency: "usd",
      source: "tok_refundPending",
      customer: cus,
    });
    s.tick();
    const a = await s.stripe.refunds.create({ charge: ch.id, amount: 1000 });
    const b = await s.stripe.refunds.create({ charge: ch.id, amount: 2500 });
    await s.read(); // both pending
    s.tick();
    s.emu.settleRefund(b.id, "failed");
    s.tick();
    const c = await s.stripe.refunds.create({ charge: ch.id, amount: 3000 });
    s.tick();
    s.emu.settleRefund(a.id, "succeeded");
    s.emu.settleRefund(c.id, "succeeded");
    return { customer: cus, pi: null, charge: ch.id };
  });
});

Deno.test("money in every order: a refund refused on an authorization, which then lapses (automatic)", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paidIn(s, { amount: 6000, currency: "usd", pm: "pm_card_visa", manual: true });
    s.tick();
    await refused(
      s.stripe.refunds.create({ payment_intent: p.pi, amount: 1000 }),
      "charge_not_refundable",
    );
    await s.read(); // the authorization, still held
    s.wait(7 * 24 * 3600 + 1);
    const pi = await s.stripe.paymentIntents.retrieve(p.pi);
    assert.equal(pi.status, "canceled");
    assert.equal(pi.cancellation_reason, "automatic");
    return p;
  });
});

Deno.test("money in every order: a chargeback, a refund refused on it, then won", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paidIn(s, { amount: 5200, currency: "usd", pm: "pm_card_createDispute" });
    await s.settle();
    const [du] = (await s.stripe.disputes.list({ charge: p.charge })).data;
    s.tick();
    await refused(
      s.stripe.refunds.create({ payment_intent: p.pi, amount: 500 }),
      "charge_disputed",
    );
    s.tick();
    s.emu.resolveDispute(du.id, "won");
    return p;
  });
});

Deno.test("money in every order: an inquiry on a partly refunded charge closes without escalating", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paidIn(s, {
      amount: 7000,
      currency: "usd",
      pm: "pm_card_createDisputeInquiry",
    });
    await s.settle();
    const [du] = (await s.stripe.disputes.list({ charge: p.charge })).data;
    s.tick();
    await s.stripe.refunds.create({ payment_intent: p.pi, amount: 1500 });
    s.tick();
    s.emu.resolveDispute(du.id, "won"); // warning_closed: nothing was withdrawn
    return p;
  });
});

Deno.test("money in every order: JPY (zero-decimal), partly captured, the captured part refunded", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paidIn(s, { amount: 8000, currency: "jpy", pm: "pm_card_visa", manual: true });
    s.tick();
    await s.stripe.paymentIntents.capture(p.pi, { amount_to_capture: 5001 });
    s.tick();
    await s.stripe.refunds.create({ payment_intent: p.pi, amount: 1 });
    s.tick();
    await s.stripe.refunds.create({ payment_intent: p.pi }); // the rest of what was captured
    return p;
  });
});

Deno.test("money in every order: KWD (three decimals), refunds pending, one fails", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paidIn(s, { amount: 12340, currency: "kwd", pm: "pm_card_refundPending" });
    s.tick();
    const a = await s.stripe.refunds.create({ payment_intent: p.pi, amount: 1230 });
    const b = await s.stripe.refunds.create({ payment_intent: p.pi, amount: 4560 });
    s.tick();
    s.emu.settleRefund(b.id, "failed");
    s.emu.settleRefund(a.id, "succeeded");
    return p;
  });
});
