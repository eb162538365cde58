import assert from "node:assert/strict";
import Stripe from "stripe";
import { withEmulator } from "./helpers/emulator.ts";
import { assertShape } from "./fixtures/stripe_shapes.ts";

async function cardError(p: Promise<unknown>): Promise<Stripe.errors.StripeCardError> {
  const err = await p.then(() => null, (e) => e);
  assert.ok(err instanceof Stripe.errors.StripeCardError, `expected a card error, got ${err}`);
  return err;
}

function pay(stripe: Stripe, pm: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}) {
  return stripe.paymentIntents.create({
    amount: 1500,
    currency: "usd",
    payment_method: pm,
    confirm: true,
    ...extra,
  });
}

// Stripe's documented declining test PaymentMethods (`pm_card_` + name): [name, code,
// decline_code, advice_code].
const DECLINES = [
  ["chargeDeclined", "card_declined", "generic_decline", "try_again_later"],
  ["chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", "try_again_later"],
  ["chargeDeclinedLostCard", "card_declined", "lost_card", "do_not_try_again"],
  ["chargeDeclinedStolenCard", "card_declined", "stolen_card", "do_not_try_again"],
  ["chargeDeclinedExpiredCard", "expired_card", "expired_card", "confirm_card_data"],
  ["chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc", "confirm_card_data"],
  ["chargeDeclinedProcessingError", "processing_error", "processing_error", "try_again_later"],
  ["chargeDeclinedFraudulent", "card_declined", "fraudulent", "do_not_try_again"],
  [
    "chargeDeclinedVelocityLimitExceeded",
    "card_declined",
    "card_velocity_exceeded",
    "try_again_later",
  ],
  ["chargeCustomerFail", "card_declined", "generic_decline", "try_again_later"],
] as const;

Deno.test("cards: every declining test card fails as Stripe documents", async () => {
  await withEmulator(async ({ stripe }) => {
    for (const [name, code, declineCode, advice] of DECLINES) {
      const pm = `pm_card_${name}`;
      const err = await cardError(pay(stripe, pm));
      assert.equal(err.code, code, pm);
      assert.equal(err.decline_code, declineCode, pm);
      assert.equal(err.advice_code, advice, pm);
      const pi = err.payment_intent!;
      assertShape(pi, `${pm} PaymentIntent`);
      assert.equal(pi.status, "requires_payment_method");
      assert.equal(pi.payment_method, null);
      const lpe = pi.last_payment_error!;
      assert.equal(lpe.type, "card_error");
      assert.equal(lpe.code, code);
      assert.equal(lpe.decline_code, declineCode);
      assert.equal(lpe.advice_code, advice);
      assert.equal(lpe.charge, pi.latest_charge);
      assert.equal((lpe.payment_method as Stripe.PaymentMethod).object, "payment_method");
      const charge = await stripe.charges.retrieve(pi.latest_charge as string);
      assert.equal(charge.status, "failed", pm);
      assert.equal(charge.failure_code, code, pm);
      assert.equal(charge.outcome?.advice_code, advice, pm);
      assertShape(charge, `${pm} charge`);
    }
  });
});

Deno.test("cards: brands, funding and a fresh PaymentMethod per test id", async () => {
  await withEmulator(async ({ stripe }) => {
    const expected = [
      ["pm_card_visa", "visa", "credit", "4242"],
      ["pm_card_visa_debit", "visa", "debit", "5556"],
      ["pm_card_mastercard", "mastercard", "credit", "4444"],
      ["pm_card_mastercard_prepaid", "mastercard", "prepaid", "5100"],
      ["pm_card_amex", "amex", "credit", "0005"],
      ["pm_card_discover", "discover", "credit", "1117"],
      ["pm_card_jcb", "jcb", "credit", "0505"],
    ];
    for (const [id, brand, funding, last4] of expected) {
      const pi = await pay(stripe, id);
      assert.equal(pi.status, "succeeded", id);
      const pm = await stripe.paymentMethods.retrieve(pi.payment_method as string);
      assert.notEqual(pm.id, id);
      assert.equal(pm.card?.brand, brand, id);
      assert.equal(pm.card?.funding, funding, id);
      assert.equal(pm.card?.last4, last4, id);
      assertShape(pm);
    }
  });
});

Deno.test("cards: risk levels; elevated risk opens a Radar review", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const elevated = await pay(stripe, "pm_card_riskLevelElevated");
    assert.equal(elevated.status, "succeeded");
    assert.match(String(elevated.review), /^prv_/);
    const charge = await stripe.charges.retrieve(elevated.latest_charge as string);
    assert.equal(charge.outcome?.risk_level, "elevated");
    assert.equal(charge.review, elevated.review);
    const review = await stripe.reviews.retrieve(elevated.review as string);
    assert.equal(review.open, true);
    assert.equal(review.reason, "rule");
    assert.equal(review.payment_intent, elevated.id);
    assertShape(review);
    const approved = await stripe.reviews.approve(review.id);
    assert.equal(approved.open, false);
    assert.equal(approved.closed_reason, "approved");
    assertShape(approved);
    const highest = await pay(stripe, "pm_card_riskLevelHighest");
    const hc = await stripe.charges.retrieve(highest.latest_charge as string);
    assert.equal(hc.outcome?.risk_level, "highest");
    await emu.deliveries();
    const types = (await stripe.events.list({ limit: 100 })).data.map((e) => e.type);
    assert.ok(types.includes("review.opened") && types.includes("review.closed"));
  });
});

Deno.test("cards: the dispute cards open fraudulent, not-received and inquiry disputes", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const cases = [
      ["pm_card_createDispute", "fraudulent", "needs_response", false, 1],
      [
        "pm_card_createDisputeProductNotReceived",
        "product_not_received",
        "needs_response",
        false,
        1,
      ],
      ["pm_card_createDisputeInquiry", "fraudulent", "warning_needs_response", true, 0],
    ] as const;
    for (const [pm, reason, status, refundable, withdrawals] of cases) {
      const pi = await pay(stripe, pm);
      await emu.deliveries();
      const [dispute] = (await stripe.disputes.list({ payment_intent: pi.id })).data;
      assert.equal(dispute.reason, reason, pm);
      assert.equal(dispute.status, status, pm);
      assert.equal(dispute.is_charge_refundable, refundable, pm);
      assert.equal(dispute.balance_transactions.length, withdrawals, pm);
      assert.equal(
        dispute.payment_method_details?.card?.case_type,
        refundable ? "inquiry" : "chargeback",
      );
      assertShape(dispute, `${pm} dispute`);
    }
  });
});

Deno.test("cards: too many declines of one card in 24 h hit Stripe's rate limit", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const card = await stripe.paymentMethods.create({
      type: "card",
      card: { number: "4000000000000002", exp_month: 12, exp_year: 2040, cvc: "123" },
    });
    for (let i = 0; i < 10; i++) {
      const err = await cardError(pay(stripe, "pm_card_chargeDeclined"));
      assert.equal(err.decline_code, "generic_decline");
    }
    const limited = await cardError(pay(stripe, card.id));
    assert.equal(limited.code, "card_decline_rate_limit_exceeded");
    assert.equal(
      limited.payment_intent?.last_payment_error?.code,
      "card_decline_rate_limit_exceeded",
    );
    // Stripe's lock, not Radar's: blocked before the network, no decline code, no Radar reason
    assert.ok(!limited.decline_code);
    const charge = await stripe.charges.retrieve(String(limited.payment_intent?.latest_charge));
    assert.equal(charge.outcome?.type, "blocked");
    assert.equal(charge.outcome?.reason, null);
    assert.equal(charge.outcome?.risk_level, "normal");
    assert.equal(charge.outcome?.network_status, "not_sent_to_network");
    // Another card is not affected, and a day later the first one reaches the issuer again.
    assert.equal((await pay(stripe, "pm_card_visa")).status, "succeeded");
    emu.advanceClock(24 * 3600 + 1);
    const again = await cardError(pay(stripe, "pm_card_chargeDeclined"));
    assert.equal(again.decline_code, "generic_decline");
  });
});
