/**
 * A snooze is judged by the payment's time, never by when a walk gets to it
 * (README "Fraud detection", workflow: snoozes): a payment made while the
 * rule was snoozed for the customer raises nothing of that rule, whether the
 * walk that evaluates it runs before or after the snooze is deleted (or runs
 * out), and a rule change's sweep over history raises nothing for it either.
 * A payment made after the snooze ended raises as usual. Real emulator, real
 * KV, the routes.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import {
  authHeaders,
  createAdmin,
  otpHeaders,
  sendJson,
  type TestAdmin,
} from "./helpers/identity.ts";
import { allFraudAlerts } from "./helpers/fraud.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

const F = "/api/admin/payments/fraud";
const RULE = "new_customer_high_value";

interface Scene {
  w: RefundWorld;
  analyst: TestAdmin;
  customer: string;
  /** the 600.00 payment made while the rule was snoozed for the customer */
  snoozedTxn: string;
  snoozeId: string;
}

async function pay(w: RefundWorld, customer: string, amount: number): Promise<string> {
  const pi: Stripe.PaymentIntent = await w.stripe.paymentIntents.create({
    amount,
    currency: "usd",
    customer,
    payment_method: "pm_card_visa",
    confirm: true,
  });
  await w.deliver();
  w.clock.advance(1000);
  return (await w.t.services.transactions.get(pi.id)).id;
}

/** A new customer's 5.00 payment, the rule snoozed for them, then a 600.00 payment. */
async function scene(w: RefundWorld): Promise<Scene> {
  const analyst = await createAdmin(w.t, "analyst");
  const customer = (await w.stripe.customers.create({ email: "buyer@example.com" })).id;
  await pay(w, customer, 500);
  const snoozed = await sendJson(w.t, "POST", `${F}/snoozes`, authHeaders(analyst), {
    customer,
    rule: RULE,
    until: new Date(w.clock.now() + 3600_000).toISOString(),
    note: "a known wholesale buyer",
  });
  assert.equal(snoozed.status, 201, JSON.stringify(snoozed.body));
  w.clock.advance(1000);
  const snoozedTxn = await pay(w, customer, 60_000);
  return { w, analyst, customer, snoozedTxn, snoozeId: snoozed.body.id };
}

async function sweep(s: Scene): Promise<number> {
  s.w.clock.advance(WALK_LAG_MS);
  const r = await sendJson(s.w.t, "POST", `${F}/sweeps`, authHeaders(s.analyst));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, "finished");
  return r.body.alerts_raised;
}

async function unsnooze(s: Scene) {
  s.w.clock.advance(1000);
  const r = await sendJson(s.w.t, "DELETE", `${F}/snoozes/${s.snoozeId}`, authHeaders(s.analyst));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  s.w.clock.advance(1000);
}

async function ruleAlerts(s: Scene) {
  return (await allFraudAlerts(s.w.t)).filter((a) => a.rule === RULE);
}

Deno.test("a payment made while snoozed raises nothing when the first sweep runs after the snooze is deleted", async () => {
  await withRefundWorld(async (w) => {
    const s = await scene(w);
    await unsnooze(s);
    assert.equal(await sweep(s), 0);
    assert.deepEqual(await ruleAlerts(s), []);

    // a payment made after the snooze ended raises, at that payment only
    const after = await pay(w, s.customer, 70_000);
    assert.equal(await sweep(s), 1);
    const alerts = await ruleAlerts(s);
    assert.deepEqual(alerts.map((a) => a.transactions), [[after]]);
  });
});

Deno.test("a payment made while snoozed raises nothing at a rule change's sweep after the snooze is deleted", async () => {
  await withRefundWorld(async (w) => {
    const s = await scene(w);
    assert.equal(await sweep(s), 0);
    await unsnooze(s);
    assert.equal(await sweep(s), 0);
    // an unrelated tightening: the next sweep walks all history again
    const admin = await createAdmin(w.t, "admin");
    const put = await sendJson(w.t, "PUT", `${F}/rules/velocity`, otpHeaders(w.t, admin), {
      watch_points: 26,
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(await sweep(s), 0);
    assert.deepEqual(await ruleAlerts(s), []);
  });
});

Deno.test("a payment made while snoozed raises nothing once the snooze has run out", async () => {
  await withRefundWorld(async (w) => {
    const s = await scene(w);
    // the hour passes before any walk evaluates the payment
    w.clock.advance(3600_000);
    assert.equal(await sweep(s), 0);
    assert.deepEqual(await ruleAlerts(s), []);
  });
});
