/**
 * Every transaction and customer ledger equals Stripe to the cent, in every
 * webhook event order (README "Transactions and money edges"): the awkward
 * shapes real payments take, played at the emulator through the SDK, their
 * events then delivered in random orders, twice, late, some only recovered by
 * reconciliation (tests/helpers/money_orders.ts).
 *
 * `MONEY_ORDER_RUNS=n` runs n random plans per shape (12 by default),
 * `MONEY_ORDER_SEED=s` replays the seed fast-check printed.
 */
import assert from "node:assert/strict";
import { checkEveryOrder, runPlan, type ShapeCtx, withShape } from "./helpers/money_orders.ts";

async function customer(s: ShapeCtx): Promise<string> {
  return (await s.stripe.customers.create({ email: "buyer@example.com" })).id;
}

/** A PaymentIntent paid with `pm` (confirmed at once), for a new customer. */
async function paid(s: ShapeCtx, amount: number, pm: string, manual = false) {
  const cus = await customer(s);
  const pi = await s.stripe.paymentIntents.create({
    amount,
    currency: "usd",
    customer: cus,
    payment_method: pm,
    confirm: true,
    ...(manual ? { capture_method: "manual" as const } : {}),
  });
  return { customer: cus, pi: pi.id, charge: pi.latest_charge as string };
}

/** The dispute a dispute test card opened on the payment's charge. */
async function disputeOf(s: ShapeCtx, charge: string) {
  await s.settle();
  const [du] = (await s.stripe.disputes.list({ charge })).data;
  if (!du) throw new Error("the test card opened no dispute");
  return du;
}

Deno.test("money in every order: a charge made without a PaymentIntent, refunded twice", async () => {
  await checkEveryOrder(async (s) => {
    const cus = await customer(s);
    const ch = await s.stripe.charges.create({
      amount: 5000,
      currency: "usd",
      source: "tok_visa",
      customer: cus,
    });
    s.tick();
    await s.stripe.refunds.create({ charge: ch.id, amount: 1200 });
    s.tick();
    await s.stripe.refunds.create({ charge: ch.id, amount: 800 });
    return { customer: cus, pi: null, charge: ch.id };
  });
});

Deno.test("money in every order: a legacy charge authorized, partly captured, refunded", async () => {
  await checkEveryOrder(async (s) => {
    const cus = await customer(s);
    const ch = await s.stripe.charges.create({
      amount: 6000,
      currency: "usd",
      source: "tok_visa",
      customer: cus,
      capture: false,
    });
    s.tick();
    await s.stripe.charges.capture(ch.id, { amount: 4500 });
    s.tick();
    await s.stripe.refunds.create({ charge: ch.id, amount: 1000 });
    return { customer: cus, pi: null, charge: ch.id };
  });
});

Deno.test("money in every order: manual capture, partial capture, then refunds", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paid(s, 8000, "pm_card_visa", true);
    await s.read(); // reconciliation sees the authorization
    s.tick();
    await s.stripe.paymentIntents.capture(p.pi, { amount_to_capture: 5000 });
    s.tick();
    await s.stripe.refunds.create({ payment_intent: p.pi, amount: 2000 });
    await s.read();
    s.tick();
    await s.stripe.refunds.create({ payment_intent: p.pi, amount: 500 });
    return p;
  });
});

Deno.test("money in every order: partial refunds pending, one succeeds, one fails, one canceled", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paid(s, 9000, "pm_card_refundPending");
    s.tick();
    const refund = (amount: number) => s.stripe.refunds.create({ payment_intent: p.pi, amount });
    const [a, b, c, d] = [
      await refund(1000),
      await refund(2000),
      await refund(1500),
      await refund(500),
    ];
    await s.read(); // all four pending
    s.tick();
    s.emu.settleRefund(a.id, "succeeded");
    s.tick();
    s.emu.settleRefund(b.id, "failed");
    await s.stripe.refunds.cancel(c.id);
    s.tick();
    s.emu.settleRefund(d.id, "succeeded");
    return p;
  });
});

Deno.test("money in every order: a full refund canceled, then refunded again", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paid(s, 3000, "pm_card_refundPending");
    s.tick();
    const first = await s.stripe.refunds.create({ payment_intent: p.pi });
    s.tick();
    await s.stripe.refunds.cancel(first.id);
    s.tick();
    const second = await s.stripe.refunds.create({ payment_intent: p.pi });
    s.tick();
    s.emu.settleRefund(second.id, "succeeded");
    return p;
  });
});

Deno.test("money in every order: an inquiry (no funds withdrawn), then closed", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paid(s, 4200, "pm_card_createDisputeInquiry");
    const du = await disputeOf(s, p.charge);
    s.tick();
    await s.stripe.disputes.close(du.id);
    return p;
  });
});

Deno.test("money in every order: a dispute lost (funds withdrawn)", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paid(s, 4200, "pm_card_createDispute");
    const du = await disputeOf(s, p.charge);
    s.tick();
    await s.stripe.disputes.close(du.id);
    return p;
  });
});

Deno.test("money in every order: a dispute won (withdrawn, then reinstated)", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paid(s, 4200, "pm_card_createDispute");
    const du = await disputeOf(s, p.charge);
    await s.read();
    s.tick();
    await s.stripe.disputes.update(du.id, { evidence: { customer_name: "Ada" }, submit: true });
    s.tick();
    s.emu.resolveDispute(du.id, "won");
    return p;
  });
});

Deno.test("money in every order: a dispute on a partly refunded charge, lost", async () => {
  await checkEveryOrder(async (s) => {
    // an inquiry leaves the charge refundable; lost, it withdraws the funds then
    const p = await paid(s, 7000, "pm_card_createDisputeInquiry");
    const du = await disputeOf(s, p.charge);
    s.tick();
    await s.stripe.refunds.create({ payment_intent: p.pi, amount: 1500 });
    s.tick();
    s.emu.resolveDispute(du.id, "lost");
    return p;
  });
});

Deno.test("money in every order: a payment declined, retried, then paid and refunded", async () => {
  await checkEveryOrder(async (s) => {
    const cus = await customer(s);
    const pi = await s.stripe.paymentIntents.create({
      amount: 2500,
      currency: "usd",
      customer: cus,
    });
    await s.stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_chargeDeclined" })
      .catch(() => {});
    await s.read(); // the decline
    s.tick();
    const ok = await s.stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
    s.tick();
    await s.stripe.refunds.create({ payment_intent: pi.id, amount: 700 });
    return { customer: cus, pi: pi.id, charge: ok.latest_charge as string };
  });
});

Deno.test("money in every order: an early fraud warning, then a full refund", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paid(s, 3300, "pm_card_createEarlyFraudWarning");
    await s.settle();
    s.tick();
    await s.stripe.refunds.create({ payment_intent: p.pi, reason: "fraudulent" });
    return p;
  });
});

Deno.test("money in every order: a Radar review, approved, then a partial refund", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paid(s, 4700, "pm_card_riskLevelElevated");
    s.tick();
    const pi = await s.stripe.paymentIntents.retrieve(p.pi);
    await s.read(); // the review still open
    await s.stripe.reviews.approve(pi.review as string);
    s.tick();
    await s.stripe.refunds.create({ payment_intent: p.pi, amount: 700 });
    return p;
  });
});

Deno.test("money in every order: authorized and never captured", async () => {
  await checkEveryOrder(async (s) => {
    const p = await paid(s, 4000, "pm_card_visa", true);
    s.tick();
    await s.stripe.paymentIntents.update(p.pi, { metadata: { order: "1042" } });
    return p;
  });
});

/** Two declines on one PaymentIntent, no attempt since. */
async function declinedTwice(s: ShapeCtx) {
  const cus = await customer(s);
  const pi = await s.stripe.paymentIntents.create({ amount: 2500, currency: "usd", customer: cus });
  for (const pm of ["pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds"]) {
    await s.stripe.paymentIntents.confirm(pi.id, { payment_method: pm }).catch(() => {});
    await s.read();
    s.tick();
  }
  const latest = await s.stripe.paymentIntents.retrieve(pi.id);
  return { customer: cus, pi: pi.id, charge: latest.latest_charge as string };
}

Deno.test("money in every order: declined twice, not retried since", async () => {
  await checkEveryOrder(declinedTwice);
});

Deno.test("money in every order: declined, then a 3-D Secure retry the customer fails: the failure is the latest attempt's", async () => {
  await checkEveryOrder(async (s) => {
    const cus = await customer(s);
    const pi = await s.stripe.paymentIntents.create({
      amount: 3100,
      currency: "usd",
      customer: cus,
    });
    await s.stripe.paymentIntents.confirm(pi.id, {
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    }).catch(() => {});
    await s.read(); // the decline: insufficient_funds on its charge
    s.tick();
    const again = await s.stripe.paymentIntents.confirm(pi.id, {
      payment_method: "pm_card_authenticationRequired",
    });
    assert.equal(again.status, "requires_action");
    s.tick();
    // no charge: Stripe's error names none, and latest_charge is still the decline's
    s.emu.authenticate(pi.id, "fail");
    const latest = await s.stripe.paymentIntents.retrieve(pi.id);
    assert.equal(latest.last_payment_error?.code, "payment_intent_authentication_failure");
    return { customer: cus, pi: pi.id, charge: latest.latest_charge as string };
  });
});

// Found by the plans above: reconciliation read Stripe while the service's clock ran behind
// Stripe's, and an older event delivered after it moved the payment back.

Deno.test("a payment read back by reconciliation is placed at Stripe's time: the authorization stays", async () => {
  await withShape(async (s) => {
    const p = await paid(s, 4000, "pm_card_visa", true);
    s.tick();
    return p;
  }, async (w) => {
    assert.deepEqual(w.events.map((e) => e.type), [
      "customer.created",
      "payment_intent.created",
      "charge.succeeded",
      "payment_intent.amount_capturable_updated",
    ]);
    // payment_intent.created comes after the backfill, on a service 10 minutes behind Stripe
    const txn = await runPlan(w, {
      order: [0, 1, 2, 3],
      dropped: [1],
      late: [1],
      again: [],
      concurrency: 1,
      reconcileAt: 0,
      skewS: -600,
    });
    assert.equal(txn.status, "requires_capture");
  });
});

Deno.test("a payment read back by reconciliation is placed at Stripe's time: the last decline stays", async () => {
  await withShape(declinedTwice, async (w) => {
    // the later decline's events first, then reconciliation, then the earlier decline's
    const txn = await runPlan(w, {
      order: [5, 4, 3, 0, 2, 1],
      dropped: [],
      late: [],
      again: [],
      concurrency: 1,
      reconcileAt: 0,
      skewS: -600,
    });
    assert.equal(txn.decline_code, "insufficient_funds");
  });
});
