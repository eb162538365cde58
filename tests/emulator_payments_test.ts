import assert from "node:assert/strict";
import Stripe from "stripe";
import { confirmedPayment, stripeFor, withEmulator } from "./helpers/emulator.ts";

async function cardError(p: Promise<unknown>): Promise<Stripe.errors.StripeCardError> {
  const err = await p.then(() => null, (e) => e);
  assert.ok(err instanceof Stripe.errors.StripeCardError, `expected a card error, got ${err}`);
  return err;
}

Deno.test("emulator: a visa payment succeeds with a succeeded charge", async () => {
  await withEmulator(async ({ stripe }) => {
    const customer = await stripe.customers.create({ email: "ada@example.com" });
    const pi = await confirmedPayment(stripe, {
      amount: 2500,
      customer: customer.id,
      metadata: { order: "o_1" },
    });
    assert.equal(pi.status, "succeeded");
    assert.equal(pi.amount_received, 2500);
    assert.match(pi.id, /^pi_/);
    assert.match(pi.payment_method as string, /^pm_/);
    assert.notEqual(pi.payment_method, "pm_card_visa");
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.status, "succeeded");
    assert.equal(charge.paid, true);
    assert.equal(charge.amount_captured, 2500);
    assert.equal(charge.customer, customer.id);
    assert.equal(charge.payment_intent, pi.id);
    assert.equal(charge.payment_method_details?.card?.brand, "visa");
    assert.equal(charge.payment_method_details?.card?.last4, "4242");
    assert.equal(charge.outcome?.risk_level, "normal");
    assert.ok((charge.outcome?.risk_score ?? 100) < 65);
    assert.equal(charge.outcome?.type, "authorized");
  });
});

Deno.test("emulator: a card keeps one fingerprint across payment methods", async () => {
  await withEmulator(async ({ stripe }) => {
    const a = await stripe.paymentMethods.create({
      type: "card",
      card: { number: "4242424242424242", exp_month: 12, exp_year: 2040, cvc: "123" },
    });
    const b = await stripe.paymentMethods.retrieve("pm_card_visa");
    const mc = await stripe.paymentMethods.retrieve("pm_card_mastercard");
    assert.equal(a.card?.fingerprint, b.card?.fingerprint);
    assert.notEqual(a.card?.fingerprint, mc.card?.fingerprint);
    assert.equal(mc.card?.brand, "mastercard");
    assert.equal(mc.card?.last4, "4444");
    assert.notEqual(a.id, b.id);
  });
});

const DECLINES = [
  ["pm_card_chargeDeclined", "generic_decline", "try_again_later"],
  ["pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", "try_again_later"],
  ["pm_card_chargeDeclinedLostCard", "lost_card", "do_not_try_again"],
  ["pm_card_chargeDeclinedStolenCard", "stolen_card", "do_not_try_again"],
] as const;

for (const [pm, declineCode, adviceCode] of DECLINES) {
  Deno.test(`emulator: ${pm} declines with ${declineCode} and can be retried`, async () => {
    await withEmulator(async ({ stripe }) => {
      const err = await cardError(
        stripe.paymentIntents.create({
          amount: 1200,
          currency: "eur",
          payment_method: pm,
          confirm: true,
        }),
      );
      assert.equal(err.statusCode, 402);
      assert.equal(err.code, "card_declined");
      assert.equal(err.decline_code, declineCode);
      assert.equal(err.advice_code, adviceCode);
      const pi = err.payment_intent!;
      assert.equal(pi.status, "requires_payment_method");
      assert.equal(pi.last_payment_error?.decline_code, declineCode);
      const failed = await stripe.charges.retrieve(pi.latest_charge as string);
      assert.equal(failed.status, "failed");
      assert.equal(failed.failure_code, "card_declined");
      assert.equal(failed.outcome?.type, "issuer_declined");

      const retried = await stripe.paymentIntents.confirm(pi.id, {
        payment_method: "pm_card_visa",
      });
      assert.equal(retried.status, "succeeded");
      assert.equal(retried.last_payment_error, null);
      assert.notEqual(retried.latest_charge, failed.id);
    });
  });
}

Deno.test("emulator: radar block declines as fraudulent with a blocked outcome", async () => {
  await withEmulator(async ({ stripe }) => {
    const err = await cardError(
      stripe.paymentIntents.create({
        amount: 900,
        currency: "usd",
        payment_method: "pm_card_radarBlock",
        confirm: true,
      }),
    );
    assert.equal(err.decline_code, "fraudulent");
    const charge = await stripe.charges.retrieve(err.payment_intent!.latest_charge as string);
    assert.equal(charge.outcome?.type, "blocked");
    assert.equal(charge.outcome?.risk_level, "highest");
    assert.equal(charge.outcome?.network_status, "not_sent_to_network");
  });
});

Deno.test("emulator: risk-level cards succeed with elevated and highest scores", async () => {
  await withEmulator(async ({ stripe }) => {
    const levels = [["pm_card_riskLevelElevated", "elevated", 65, 74], [
      "pm_card_riskLevelHighest",
      "highest",
      75,
      100,
    ]] as const;
    for (const [pm, level, lo, hi] of levels) {
      const pi = await stripe.paymentIntents.create({
        amount: 700,
        currency: "usd",
        payment_method: pm,
        confirm: true,
        expand: ["latest_charge"],
      });
      const charge = pi.latest_charge as Stripe.Charge;
      assert.equal(charge.outcome?.risk_level, level);
      const score = charge.outcome?.risk_score ?? -1;
      assert.ok(score >= lo && score <= hi, `${level} score ${score}`);
    }
  });
});

Deno.test("emulator: an SCA card requires action on-session and declines off-session", async () => {
  await withEmulator(async ({ stripe }) => {
    const pi = await stripe.paymentIntents.create({
      amount: 1500,
      currency: "gbp",
      payment_method: "pm_card_authenticationRequired",
      confirm: true,
    });
    assert.equal(pi.status, "requires_action");
    assert.equal(pi.next_action?.type, "use_stripe_sdk");
    assert.equal(pi.latest_charge, null);
    const err = await cardError(
      stripe.paymentIntents.create({
        amount: 1500,
        currency: "gbp",
        payment_method: "pm_card_authenticationRequired",
        confirm: true,
        off_session: true,
      }),
    );
    assert.equal(err.code, "authentication_required");
  });
});

Deno.test("emulator: charge-only integrations charge tokens directly", async () => {
  await withEmulator(async ({ stripe }) => {
    const charge = await stripe.charges.create({
      amount: 3000,
      currency: "usd",
      source: "tok_visa",
    });
    assert.equal(charge.status, "succeeded");
    assert.equal(charge.payment_intent, null);
    const err = await cardError(
      stripe.charges.create({ amount: 3000, currency: "usd", source: "tok_chargeDeclined" }),
    );
    assert.match(err.charge ?? "", /^ch_/);
  });
});

Deno.test("emulator: invalid requests get Stripe's 400, 401 and 404 errors", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    await assert.rejects(
      stripe.paymentIntents.create({ amount: 0, currency: "usd" }),
      (e: Stripe.errors.StripeError) => e.statusCode === 400 && e.param === "amount",
    );
    await assert.rejects(
      stripe.customers.retrieve("cus_missing"),
      (e: Stripe.errors.StripeError) => e.statusCode === 404 && e.code === "resource_missing",
    );
    const res = await fetch(`${emu.url}/v1/customers`, {
      headers: { authorization: "Bearer pk_live_nope" },
    });
    assert.equal(res.status, 401);
    assert.match(res.headers.get("request-id") ?? "", /^req_/);
    assert.equal((await res.json()).error.type, "invalid_request_error");
  });
});

Deno.test("emulator: lists paginate newest first with starting_after and ending_before", async () => {
  await withEmulator(async ({ stripe }) => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await stripe.customers.create({ email: `c${i}@example.com` })).id);
    }
    const newestFirst = [...ids].reverse();
    const page1 = await stripe.customers.list({ limit: 2 });
    assert.deepEqual(page1.data.map((c) => c.id), newestFirst.slice(0, 2));
    assert.equal(page1.has_more, true);
    const page2 = await stripe.customers.list({ limit: 2, starting_after: page1.data[1].id });
    assert.deepEqual(page2.data.map((c) => c.id), newestFirst.slice(2, 4));
    const page3 = await stripe.customers.list({ limit: 2, starting_after: page2.data[1].id });
    assert.deepEqual(page3.data.map((c) => c.id), newestFirst.slice(4));
    assert.equal(page3.has_more, false);
    const back = await stripe.customers.list({ limit: 2, ending_before: page3.data[0].id });
    assert.deepEqual(back.data.map((c) => c.id), newestFirst.slice(2, 4));
    const all = [];
    for await (const c of stripe.customers.list({ limit: 2 })) all.push(c.id);
    assert.deepEqual(all, newestFirst);
    const byEmail = await stripe.customers.list({ email: "c3@example.com" });
    assert.deepEqual(byEmail.data.map((c) => c.id), [ids[3]]);
  });
});

Deno.test("emulator: expand works on objects and on list items", async () => {
  await withEmulator(async ({ stripe }) => {
    const customer = await stripe.customers.create({ email: "e@example.com" });
    const pi = await confirmedPayment(stripe, { amount: 1000, customer: customer.id });
    const charge = await stripe.charges.retrieve(pi.latest_charge as string, {
      expand: ["payment_intent", "customer"],
    });
    assert.equal((charge.payment_intent as Stripe.PaymentIntent).id, pi.id);
    assert.equal((charge.customer as Stripe.Customer).email, "e@example.com");
    const list = await stripe.paymentIntents.list({
      customer: customer.id,
      expand: ["data.latest_charge", "data.payment_method"],
    });
    assert.equal((list.data[0].latest_charge as Stripe.Charge).object, "charge");
    assert.equal((list.data[0].payment_method as Stripe.PaymentMethod).object, "payment_method");
    const stored = await stripe.paymentIntents.retrieve(pi.id);
    assert.equal(typeof stored.latest_charge, "string");
  });
});

Deno.test("emulator: payment methods attach to customers and list by customer", async () => {
  await withEmulator(async ({ emu }) => {
    const stripe = stripeFor(emu);
    const customer = await stripe.customers.create({ email: "pm@example.com" });
    const pm = await stripe.paymentMethods.attach("pm_card_mastercard", { customer: customer.id });
    assert.equal(pm.customer, customer.id);
    const listed = await stripe.paymentMethods.list({ customer: customer.id, type: "card" });
    assert.deepEqual(listed.data.map((p) => p.id), [pm.id]);
    const detached = await stripe.paymentMethods.detach(pm.id);
    assert.equal(detached.customer, null);
    const updated = await stripe.customers.update(customer.id, { metadata: { tier: "gold" } });
    assert.deepEqual(updated.metadata, { tier: "gold" });
  });
});

Deno.test("emulator: curl-style form bodies with expand[] and basic auth work", async () => {
  await withEmulator(async ({ emu }) => {
    const res = await fetch(`${emu.url}/v1/payment_intents`, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa("sk_test_curl:")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "amount=1999&currency=usd&payment_method=pm_card_amex&confirm=true" +
        "&metadata[order_id]=o_9&expand[]=latest_charge",
    });
    assert.equal(res.status, 200);
    const pi = await res.json();
    assert.deepEqual(pi.metadata, { order_id: "o_9" });
    assert.equal(pi.latest_charge.object, "charge");
    assert.equal(pi.latest_charge.payment_method_details.card.brand, "amex");
  });
});

Deno.test("emulator: lists filter by created, exact and as a range", async () => {
  let now = Date.UTC(2026, 10, 1);
  await withEmulator(async ({ stripe }) => {
    const a = await stripe.customers.create({ email: "a@example.com" });
    now += 60_000;
    const b = await stripe.customers.create({ email: "b@example.com" });
    now += 60_000;
    const c = await stripe.customers.create({ email: "c@example.com" });
    const ids = (l: { data: { id: string }[] }) => l.data.map((x) => x.id);
    assert.deepEqual(ids(await stripe.customers.list({ created: { gte: b.created } })), [
      c.id,
      b.id,
    ]);
    assert.deepEqual(ids(await stripe.customers.list({ created: { lt: b.created } })), [a.id]);
    assert.deepEqual(ids(await stripe.customers.list({ created: b.created })), [b.id]);
  }, { now: () => now });
});

Deno.test("emulator: card fingerprints are 16 alphanumeric characters, stable per number", async () => {
  const { cardFingerprint } = await import("../emulator/cards.ts");
  const numbers = [
    "4242424242424242",
    "5555555555554444",
    "4000000000000002",
    "4000000000009995",
    "4000000000009987",
    "4000000000009979",
    "4100000000000019",
    "4000000000000259",
    "378282246310005",
  ];
  for (let i = 0; i < 2000; i++) numbers.push(String(4000000000000000 + i * 7919));
  const seen = new Set<string>();
  for (const n of numbers) {
    const fp = cardFingerprint(n);
    assert.match(fp, /^[A-Za-z0-9]{16}$/, `fingerprint of ${n}`);
    // an out-of-range index into the alphabet once spelled "undefined" into fingerprints
    assert.doesNotMatch(fp, /undefined/, `fingerprint of ${n}`);
    assert.equal(cardFingerprint(n), fp);
    seen.add(fp);
  }
  assert.equal(seen.size, numbers.length, "different numbers, different fingerprints");
});
