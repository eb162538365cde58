/**
 * A PaymentIntent may be updated before it is paid: its currency (a customer
 * picking one at checkout) and its customer. The ledger books the money that
 * moved, in its currency, for the customer of the payment as Stripe has it
 * last, and the counters follow, in every delivery order (README,
 * "Transactions and money edges").
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { postEvent, WEBHOOK_ENV } from "./helpers/webhooks.ts";
import {
  chargeObject,
  GENERIC_DECLINE,
  paymentIntentObject,
  refundObject,
  stripeEvent,
  T0,
  testId,
  VISA,
} from "./helpers/stripe_objects.ts";
import { allLedgerEntries, listBalances } from "../kv/customers.ts";
import { listCardDeclines } from "../kv/fraud.ts";

/** Every order of `items` (n! of them; n stays small here). */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest])
  );
}

/** Signed and POSTed through the app as Stripe delivers them, one after the other. */
async function deliver(t: TestApp, events: Stripe.Event[]): Promise<void> {
  for (const e of events) {
    const res = await postEvent(t.app, e, { clock: t.clock });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await t.services.webhooks.drain();
  }
}

/** What one customer's side of the local picture shows (nothing that differs between runs). */
async function customerPicture(t: TestApp, customer: string) {
  const ledger = (await allLedgerEntries(t.kv, customer))
    .map((e) => `${e.type} ${e.amount} ${e.currency} ${e.stripe_object}`).sort();
  const balances = (await listBalances(t.kv, customer)).map((b) => `${b.amount} ${b.currency}`);
  const agg = await t.services.customers.aggregates(customer);
  const counters = agg && (() => {
    const { updated_at: _u, balances: _b, fraud, ...rest } = agg;
    const history = fraud && {
      attempts: fraud.attempts.map(({ x: _x, u: _u, ...a }) => a),
      disputes: fraud.disputes.map(({ x: _x, u: _u, ...d }) => d),
      warnings: fraud.warnings.map(({ x: _x, u: _u, ...w }) => w),
    };
    return { ...rest, history };
  })();
  const listed = await t.services.transactions.list({ customer, limit: 10 });
  const declines = (await listCardDeclines(t.kv, VISA.fingerprint, 0, Number.MAX_SAFE_INTEGER))
    .filter((d) => d.customer === customer).map((d) => d.t);
  return { ledger, balances, counters, transactions: listed.data.length, declines };
}

async function pictureAfter(events: Stripe.Event[], customers: string[]) {
  const t = await createTestApp({ env: WEBHOOK_ENV });
  try {
    await deliver(t, events);
    const page = await t.services.transactions.list({ limit: 10 });
    assert.equal(page.data.length, 1, "one transaction per payment");
    const { id: _id, updated_at: _u, ...txn } = page.data[0];
    const sides: Record<string, Awaited<ReturnType<typeof customerPicture>>> = {};
    for (const c of customers) sides[c] = await customerPicture(t, c);
    return { txn, customers: sides };
  } finally {
    await t.services.webhooks.drain();
    await t.close();
  }
}

const nothing = { ledger: [], balances: [], counters: null, transactions: 0, declines: [] };

Deno.test("a PaymentIntent created in usd and paid in eur books eur, in every delivery order", async () => {
  const pi = testId("pi"), ch = testId("ch"), cus = testId("cus");
  const paidAt = T0 + 30;
  const events = [
    stripeEvent(
      "payment_intent.created",
      paymentIntentObject({ id: pi, amount: 4200, currency: "usd", customer: cus, created: T0 }),
      T0,
    ),
    stripeEvent(
      "charge.succeeded",
      chargeObject({
        id: ch,
        payment_intent: pi,
        amount: 3900,
        currency: "eur",
        customer: cus,
        created: paidAt,
      }),
      paidAt,
    ),
    stripeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({
        id: pi,
        amount: 3900,
        currency: "eur",
        customer: cus,
        status: "succeeded",
        latest_charge: ch,
        created: T0,
      }),
      paidAt,
    ),
  ];
  const inOrder = await pictureAfter(events, [cus]);
  assert.equal(inOrder.txn.currency, "eur");
  assert.equal(inOrder.txn.amount_captured, 3900);
  assert.deepEqual(inOrder.customers[cus].ledger, [`payment 3900 eur ${ch}`]);
  assert.deepEqual(inOrder.customers[cus].balances, ["3900 eur"]);
  for (const order of permutations(events).slice(1)) {
    assert.deepEqual(await pictureAfter(order, [cus]), inOrder);
  }
});

Deno.test("a currency seen only on an unpaid PaymentIntent never reaches the ledger; a refund follows the payment's", async () => {
  const pi = testId("pi"), ch = testId("ch"), cus = testId("cus");
  const paidAt = T0 + 30;
  const re = refundObject({
    charge: ch,
    payment_intent: pi,
    amount: 1000,
    currency: "jpy",
    status: "succeeded",
    created: T0 + 100,
  });
  const events = [
    stripeEvent(
      "payment_intent.created",
      paymentIntentObject({ id: pi, amount: 4200, currency: "usd", customer: cus, created: T0 }),
      T0,
    ),
    stripeEvent("refund.created", re, T0 + 100),
    stripeEvent(
      "charge.succeeded",
      chargeObject({
        id: ch,
        payment_intent: pi,
        amount: 5000,
        currency: "jpy",
        customer: cus,
        created: paidAt,
      }),
      paidAt,
    ),
  ];
  const inOrder = await pictureAfter(events, [cus]);
  assert.equal(inOrder.txn.currency, "jpy");
  assert.deepEqual(inOrder.customers[cus].balances, ["4000 jpy"]);
  for (const order of permutations(events).slice(1)) {
    assert.deepEqual(await pictureAfter(order, [cus]), inOrder);
  }
});

Deno.test("a PaymentIntent whose customer changed from A to B before payment books B, A keeps nothing, in every order", async () => {
  const pi = testId("pi"), ch = testId("ch");
  const a = testId("cus"), b = testId("cus");
  const paidAt = T0 + 30;
  const re = refundObject({
    charge: ch,
    payment_intent: pi,
    amount: 1000,
    currency: "usd",
    status: "succeeded",
    created: T0 + 100,
  });
  const events = [
    stripeEvent(
      "payment_intent.created",
      paymentIntentObject({ id: pi, amount: 4200, customer: a, created: T0 }),
      T0,
    ),
    stripeEvent(
      "charge.succeeded",
      chargeObject({ id: ch, payment_intent: pi, amount: 4200, customer: b, created: paidAt }),
      paidAt,
    ),
    stripeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({
        id: pi,
        amount: 4200,
        customer: b,
        status: "succeeded",
        latest_charge: ch,
        created: T0,
      }),
      paidAt,
    ),
    stripeEvent("refund.created", re, T0 + 100),
  ];
  const inOrder = await pictureAfter(events, [a, b]);
  assert.equal(inOrder.txn.customer, b);
  assert.deepEqual(inOrder.customers[a], nothing);
  assert.deepEqual(inOrder.customers[b].balances, ["3200 usd"]);
  assert.equal(inOrder.customers[b].transactions, 1);
  assert.equal(inOrder.customers[b].counters?.totals.payments, 1);
  for (const order of permutations(events).slice(1)) {
    assert.deepEqual(await pictureAfter(order, [a, b]), inOrder);
  }
});

Deno.test("a decline while the PaymentIntent was A's, paid by B after the change: all of it counts for B, in every order", async () => {
  const pi = testId("pi"), ch1 = testId("ch"), ch2 = testId("ch");
  const a = testId("cus"), b = testId("cus");
  const declinedAt = T0 + 5, paidAt = T0 + 60;
  const events = [
    stripeEvent(
      "payment_intent.created",
      paymentIntentObject({ id: pi, amount: 4200, customer: a, created: T0 }),
      T0,
    ),
    stripeEvent(
      "charge.failed",
      chargeObject({
        id: ch1,
        payment_intent: pi,
        amount: 4200,
        customer: a,
        status: "failed",
        decline: GENERIC_DECLINE,
        created: declinedAt,
      }),
      declinedAt,
    ),
    stripeEvent(
      "payment_intent.payment_failed",
      paymentIntentObject({
        id: pi,
        amount: 4200,
        customer: a,
        latest_charge: ch1,
        decline: { ...GENERIC_DECLINE, charge: ch1, card: VISA },
        created: T0,
      }),
      declinedAt,
    ),
    stripeEvent(
      "charge.succeeded",
      chargeObject({ id: ch2, payment_intent: pi, amount: 4200, customer: b, created: paidAt }),
      paidAt,
    ),
    stripeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({
        id: pi,
        amount: 4200,
        customer: b,
        status: "succeeded",
        latest_charge: ch2,
        created: T0,
      }),
      paidAt,
    ),
  ];
  const inOrder = await pictureAfter(events, [a, b]);
  assert.equal(inOrder.txn.customer, b);
  assert.deepEqual(inOrder.customers[a], nothing);
  const counted = inOrder.customers[b].counters;
  assert.equal(counted?.totals.payments, 1);
  assert.equal(counted?.totals.failures, 1);
  assert.equal(counted?.history?.attempts.length, 2);
  assert.deepEqual(inOrder.customers[b].declines, [declinedAt * 1000]);
  const all = permutations(events);
  // every order would be 120 apps; the reverse and an even spread of the rest
  const some = [all[all.length - 1], ...all.filter((_, i) => i % 7 === 3)];
  for (const order of some) {
    assert.deepEqual(await pictureAfter(order, [a, b]), inOrder);
  }
});
