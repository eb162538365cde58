/**
 * A charge whose events name no PaymentIntent (`payment_intent: null` on the
 * charge and its refunds) makes a charge-keyed stub that posts to the
 * customer's ledger; the PaymentIntent naming that charge as its
 * `latest_charge` merges it. Whatever the delivery order (and with Stripe's
 * re-deliveries), the ledger ends with every line under the one transaction
 * that survives (README, "Transactions and money edges": every delivery order
 * ends in the same transaction and ledger balance).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type Stripe from "stripe";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { postEvent, WEBHOOK_ENV } from "./helpers/webhooks.ts";
import {
  chargeObject,
  paymentIntentObject,
  refundObject,
  stripeEvent,
  T0,
  testId,
} from "./helpers/stripe_objects.ts";
import { authHeaders, createAdmin, sendJson, type TestAdmin } from "./helpers/identity.ts";
import { API } from "./helpers/disputes.ts";

interface Payment {
  customer: string;
  pi: string;
  events: Stripe.Event[];
}

/** PaymentIntent 10000 USD; refunds of 3000 then 2000; the charge and refunds name no PaymentIntent. */
function payment(): Payment {
  const cus = testId("cus"), pi = testId("pi"), ch = testId("ch");
  const re1 = testId("re"), re2 = testId("re");
  const paidAt = T0 + 10;
  const charge = (refunded: number, refunds: Stripe.Refund[]) =>
    chargeObject({
      id: ch,
      payment_intent: null,
      amount: 10000,
      customer: cus,
      created: paidAt,
      amount_refunded: refunded,
      refunds,
    });
  const refund = (id: string, amount: number, at: number) =>
    refundObject({ id, charge: ch, payment_intent: null, customer: cus, amount, created: at });
  const r1 = refund(re1, 3000, T0 + 100), r2 = refund(re2, 2000, T0 + 200);
  const intent = (status: Stripe.PaymentIntent.Status, latest: string | null) =>
    paymentIntentObject({
      id: pi,
      amount: 10000,
      customer: cus,
      status,
      latest_charge: latest,
      created: T0,
    });
  return {
    customer: cus,
    pi,
    // in the order the reviewer delivered them
    events: [
      stripeEvent("charge.succeeded", charge(0, []), paidAt),
      stripeEvent("refund.created", r1, T0 + 100),
      stripeEvent("charge.refunded", charge(3000, [r1]), T0 + 100),
      stripeEvent("payment_intent.created", intent("requires_payment_method", null), T0),
      stripeEvent("payment_intent.succeeded", intent("succeeded", ch), paidAt),
      stripeEvent("refund.created", r2, T0 + 200),
      stripeEvent("charge.refunded", charge(5000, [r2, r1]), T0 + 200),
    ],
  };
}

async function deliver(t: TestApp, events: Stripe.Event[]): Promise<void> {
  for (const e of events) {
    const res = await postEvent(t.app, e, { clock: t.clock });
    assert.equal(res.status, 200, await res.text());
    await t.services.webhooks.drain();
  }
}

/** The customer's ledger summed by transaction, as the admin API shows it. */
async function ledgerByTransaction(t: TestApp, admin: TestAdmin, customer: string) {
  const r = await sendJson(t, "GET", `${API}/customers/${customer}?limit=100`, authHeaders(admin));
  assert.equal(r.status, 200);
  const by: Record<string, number> = {};
  for (const e of r.body.ledger.data as { transaction_id: string; amount: number }[]) {
    by[e.transaction_id] = (by[e.transaction_id] ?? 0) + e.amount;
  }
  return { by, balances: r.body.balances as { currency: string; amount: number }[] };
}

/** Delivers `order` (indexes into the payment's events) and checks the picture. */
async function check(order: number[]): Promise<void> {
  const p = payment();
  const t = await createTestApp({ env: WEBHOOK_ENV });
  try {
    const admin = await createAdmin(t, "viewer");
    await deliver(t, order.map((i) => p.events[i]));
    const shown = await sendJson(t, "GET", `${API}/transactions/${p.pi}`, authHeaders(admin));
    assert.equal(shown.status, 200);
    const txn = shown.body;
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.amount_refunded, 5000);
    const listed = await sendJson(
      t,
      "GET",
      `${API}/transactions?customer=${p.customer}`,
      authHeaders(admin),
    );
    assert.deepEqual(listed.body.data.map((x: { id: string }) => x.id), [txn.id]);
    const ledger = await ledgerByTransaction(t, admin, p.customer);
    assert.deepEqual(ledger.by, { [txn.id]: 5000 }, `order ${order.join(",")}`);
    assert.deepEqual(ledger.balances.map((b) => [b.currency, b.amount]), [["usd", 5000]]);
  } finally {
    await t.services.webhooks.drain();
    await t.close();
  }
}

Deno.test("a merged stub's ledger lines end under the payment's transaction: the reviewer's order", async () => {
  await check([0, 1, 2, 3, 4, 5, 6]);
});

Deno.test("a merged stub's ledger lines end under the payment's transaction, in every delivery order", async () => {
  const all = [0, 1, 2, 3, 4, 5, 6];
  await fc.assert(
    fc.asyncProperty(
      fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
      // Stripe re-delivers: some events again, anywhere
      fc.array(fc.tuple(fc.nat(all.length - 1), fc.nat(20)), { maxLength: 3 }),
      async (order, again) => {
        const delivered = [...order];
        for (const [i, at] of again) delivered.splice(at % (delivered.length + 1), 0, i);
        await check(delivered);
      },
    ),
    { numRuns: 100 },
  );
});
