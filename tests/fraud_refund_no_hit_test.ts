/**
 * A refund is no payment (README "Fraud detection"): refunding an alert's
 * payments through `POST /fraud/alerts/{id}/refunds`, with the refund events
 * Stripe sends (`refund.created`, `charge.refunded`, then `refund.updated`
 * and `charge.refund.updated`) through the webhook intake, leaves the
 * customer's fraud history as it was and adds nothing to any alert on the
 * next live pass or sweep: no `fraud_alert.hit`, no new alert. Likewise when
 * the refund's events are the first the service hears of the charges.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import { auditEntries, otpHeaders, sendJson } from "./helpers/identity.ts";
import { makeEvent, postEvent } from "./helpers/webhooks.ts";
import type { FraudAlert } from "../domain/fraud.ts";
import { readSubjects } from "../kv/fraud.ts";

const BASE = "/api/admin/payments";

/** Twelve payments of one customer within a minute: velocity's alert level (10 in 30 min). */
async function burst(w: RefundWorld, deliverNow: (type: string) => boolean) {
  const customer = await w.stripe.customers.create({ email: "burst@example.com" });
  for (let i = 0; i < 12; i++) {
    await w.stripe.paymentIntents.create({
      amount: 1_000 + i,
      currency: "usd",
      customer: customer.id,
      payment_method: "pm_card_visa",
      confirm: true,
    });
    w.clock.advance(5_000);
  }
  await w.deliver((held) => held.filter((h) => deliverNow(h.type)));
  w.clock.advance(10_000);
  await w.t.services.fraud.live({ trigger: "test" });
  return customer.id;
}

const alertsOf = async (w: RefundWorld) =>
  ((await w.t.services.fraud.listAlerts({ limit: 100 })).data as FraudAlert[])
    .map((a) => ({ id: a.id, rule: a.rule, hits: a.hit_count, transactions: a.transactions }));

const raisedOrHit = async (w: RefundWorld) =>
  (await auditEntries(w.t.kv)).filter((e) =>
    e.action === "fraud_alert.hit" || e.action === "fraud_alert.raise"
  ).length;

/** Refunds the velocity alert's payments through the route; the refunds Stripe made. */
async function refundVelocityAlert(w: RefundWorld): Promise<Stripe.Refund[]> {
  const velocity = (await alertsOf(w)).find((a) => a.rule === "velocity");
  assert.ok(velocity, "a velocity alert");
  const asked = await sendJson(
    w.t,
    "POST",
    `${BASE}/fraud/alerts/${velocity.id}/refunds`,
    otpHeaders(w.t, w.operator),
    { note: "card testing burst" },
  );
  assert.equal(asked.status, 200, JSON.stringify(asked.body));
  const out: Stripe.Refund[] = [];
  for (const r of asked.body.results as { status: number; refund: { stripe_refund: string } }[]) {
    assert.equal(r.status, 201);
    out.push(await w.stripe.refunds.retrieve(r.refund.stripe_refund));
  }
  return out;
}

/** Stripe's later refund events (a card refund's `refund.updated`, `charge.refund.updated`). */
async function laterRefundEvents(w: RefundWorld, refunds: Stripe.Refund[]) {
  const created = Math.floor(w.clock.now() / 1000);
  for (const re of refunds) {
    for (const type of ["refund.updated", "charge.refund.updated"]) {
      const object = re as unknown as Record<string, unknown>;
      const res = await postEvent(w.t.app, makeEvent(type, object, { created }), {
        clock: w.clock,
      });
      assert.equal(res.status, 200, await res.text());
    }
  }
  await w.t.services.webhooks.drain();
}

Deno.test("refunding an alert's payments leaves the fraud history alone and adds no hit", async () => {
  await withRefundWorld(async (w) => {
    const customer = await burst(w, () => true);
    const before = await alertsOf(w);
    const audited = await raisedOrHit(w);
    const [history] = await readSubjects(w.t.kv, [customer]);

    const refunds = await refundVelocityAlert(w);
    const types = (await w.held()).map((h) => h.type);
    assert.ok(types.includes("charge.refunded") && types.includes("refund.created"), `${types}`);
    await w.deliver();
    await laterRefundEvents(w, refunds);
    w.clock.advance(10_000);
    await w.t.services.fraud.live({ trigger: "test" });
    await w.t.services.fraud.sweep({ trigger: "test" });

    const [after] = await readSubjects(w.t.kv, [customer]);
    assert.deepEqual(after.history, history.history, "a refund adds no attempt, changes none");
    assert.deepEqual(await alertsOf(w), before, "no new alert, no hit");
    assert.equal(await raisedOrHit(w), audited, "nothing audited as a raise or hit");
  });
});

Deno.test("a refund's events arriving before the charges' own add no payment to an alert", async () => {
  await withRefundWorld(async (w) => {
    // the charges' events are late: only the PaymentIntents' are in when the alert is raised
    await burst(w, (type) => type.startsWith("payment_intent."));
    const before = await alertsOf(w);
    const audited = await raisedOrHit(w);

    const refunds = await refundVelocityAlert(w);
    await w.deliver((held) => held.filter((h) => h.type !== "charge.succeeded"));
    await laterRefundEvents(w, refunds);
    w.clock.advance(10_000);
    await w.t.services.fraud.live({ trigger: "test" });
    await w.deliver();
    w.clock.advance(10_000);
    await w.t.services.fraud.live({ trigger: "test" });
    await w.t.services.fraud.sweep({ trigger: "test" });

    assert.deepEqual(await alertsOf(w), before, "no new alert, no hit");
    assert.equal(await raisedOrHit(w), audited, "nothing audited as a raise or hit");
  });
});
