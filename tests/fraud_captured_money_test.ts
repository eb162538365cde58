/**
 * The amount rules count the money Stripe captured (README "Fraud detection":
 * a succeeded payment at what was captured; a declined attempt counts only
 * where a rule counts failures): a declined 600.00 of a new customer raises
 * neither `new_customer_high_value` nor `amount_anomaly`, as the customer's
 * aggregates count it among the failures, not the payments. An alert whose
 * hits include a declined payment (velocity counts any outcome) refunds only
 * the payments with money captured; the others are listed in `skipped`.
 * Real emulator, real KV, the live walker.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { otpHeaders, sendJson } from "./helpers/identity.ts";
import { allFraudAlerts } from "./helpers/fraud.ts";
import { runFraudLive, WALK_LAG_MS } from "../services/fraud/mod.ts";

/** A payment of `customer` with `paymentMethod`, declined or not, delivered to the app; its txn id. */
async function attempt(w: RetryWorld, customer: string, amount: number, paymentMethod: string) {
  let pi: Stripe.PaymentIntent;
  try {
    pi = await w.stripe.paymentIntents.create({
      amount,
      currency: "usd",
      customer,
      payment_method: paymentMethod,
      confirm: true,
    });
  } catch (error) {
    const raw = (error as { raw?: { payment_intent?: Stripe.PaymentIntent } }).raw;
    if (!raw?.payment_intent) throw error;
    pi = raw.payment_intent;
  }
  await w.deliver();
  // one Stripe second apart: "earlier" payments are earlier in Stripe time
  w.clock.advance(1000);
  return (await w.t.services.transactions.get(pi.id)).id;
}

async function walk(w: RetryWorld) {
  w.clock.advance(WALK_LAG_MS);
  await runFraudLive(w.t.services);
}

const newCustomer = async (w: RetryWorld) =>
  (await w.stripe.customers.create({ email: "buyer@example.com" })).id;

Deno.test("a declined 600.00 of a new customer raises no amount rule; a captured one does", async () => {
  await withRetryWorld(async (w) => {
    const declined = await newCustomer(w);
    await attempt(w, declined, 60_000, "pm_card_chargeDeclined");
    await walk(w);
    const view = await w.get(`/api/admin/payments/customers/${declined}`);
    assert.equal(view.status, 200);
    const agg = view.body.aggregates as { last_24h: { payments: number; failures: number } };
    assert.deepEqual([agg.last_24h.payments, agg.last_24h.failures], [0, 1]);
    assert.deepEqual(
      (await allFraudAlerts(w.t)).map((a) => [a.rule, a.subject]),
      [],
      "nothing was captured: no amount rule fires",
    );

    // the same amount captured: the rule fires, at the captured amount
    const paid = await newCustomer(w);
    await attempt(w, paid, 60_000, "pm_card_visa");
    await walk(w);
    const alerts = await allFraudAlerts(w.t);
    assert.deepEqual(alerts.map((a) => [a.rule, a.subject]), [["new_customer_high_value", paid]]);
    assert.equal(alerts[0].signals[0].evidence.amount, 60_000);
  });
});

Deno.test("amount_anomaly: a declined attempt far above the customer's payments is no anomaly", async () => {
  await withRetryWorld(async (w) => {
    const customer = await newCustomer(w);
    for (let i = 0; i < 3; i++) await attempt(w, customer, 1_000, "pm_card_visa");
    await attempt(w, customer, 60_000, "pm_card_chargeDeclined");
    await walk(w);
    assert.deepEqual((await allFraudAlerts(w.t)).map((a) => a.rule), []);

    // captured, the same amount is an anomaly (and a new customer's high value)
    const big = await attempt(w, customer, 60_000, "pm_card_visa");
    await walk(w);
    const alerts = await allFraudAlerts(w.t);
    assert.deepEqual(
      alerts.map((a) => a.rule).sort(),
      ["amount_anomaly", "new_customer_high_value"],
    );
    for (const a of alerts) assert.deepEqual(a.transactions, [big]);
  });
});

Deno.test("an alert's refunds skip its declined payments, saying why, and refund the captured ones", async () => {
  await withRetryWorld(async (w) => {
    const customer = await newCustomer(w);
    for (let i = 0; i < 9; i++) await attempt(w, customer, 1_000, "pm_card_visa");
    const declined = await attempt(w, customer, 1_000, "pm_card_chargeDeclined");
    const paid = await attempt(w, customer, 1_000, "pm_card_visa");
    await walk(w);
    const [alert] = await allFraudAlerts(w.t);
    assert.equal(alert.rule, "velocity");
    // velocity counts payments of any outcome: its hits are at the 10th and the 11th
    assert.deepEqual(alert.transactions, [declined, paid]);

    const asked = await sendJson(
      w.t,
      "POST",
      `/api/admin/payments/fraud/alerts/${alert.id}/refunds`,
      otpHeaders(w.t, w.operator),
      { note: "card testing burst" },
    );
    assert.equal(asked.status, 200);
    assert.deepEqual(
      asked.body.results.map((r: { transaction_id: string; status: number }) => [
        r.transaction_id,
        r.status,
      ]),
      [[paid, 201]],
    );
    assert.equal(asked.body.skipped.length, 1);
    assert.equal(asked.body.skipped[0].transaction_id, declined);
    assert.equal(asked.body.skipped[0].transaction_status, "failed");
    assert.match(asked.body.skipped[0].reason, /nothing was captured/);
  });
});
