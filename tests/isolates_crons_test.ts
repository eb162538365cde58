/**
 * Every cron task run by two isolates of one deployment at the same moment
 * (an operator's sweep, the in-process job runner, a cron that fires twice):
 * each unit of work is done once, and the audit chain stays whole.
 */
import { allFraudAlerts } from "./helpers/fraud.ts";
import assert from "node:assert/strict";
import { askRefund, authorizeAtStripe, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { disputedPayment } from "./helpers/disputes.ts";
import { listAllOpsAlerts } from "../kv/ops_alerts.ts";
import {
  cronSchedules,
  FRAUD_SWEEP_TASK,
  type PeriodicTask,
  runPeriodicTask,
} from "../services/background.ts";
import { createIsolateOf, createTestApp } from "./helpers/app.ts";
import { generateStream } from "./helpers/fraud_stream.ts";
import { T0 } from "./helpers/stripe_objects.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

const HOUR = 3600_000;

Deno.test("isolates: every cron task on both at once does each unit of work once", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const { dispute } = await disputedPayment(w);
    const pay = await w.pay(4000);
    // a refund whose Stripe answer was lost with its process: reconciliation finishes it
    w.hooks.afterStripeCall = () => {
      throw new Error("simulated crash before the second commit");
    };
    await assert.rejects(askRefund(w, pay.txnId, 2500, "lost answer"), /simulated crash/);
    w.hooks.afterStripeCall = undefined;
    await w.dropHeld();
    w.clock.set(Date.parse(dispute.evidence_due_by!) - 72 * HOUR + 1000);
    const tasks = Object.keys(cronSchedules(w.t.deps.config)) as PeriodicTask[];
    const runAll = (services: typeof w.t.services) =>
      Promise.all(tasks.map((task) => runPeriodicTask(services, task)));
    await Promise.all([runAll(w.t.services), runAll(other.t.services)]);
    await Promise.all([runAll(w.t.services), runAll(other.t.services)]);

    const reminders = (await listAllOpsAlerts(w.t.kv)).filter((a) => a.kind === "dispute_due_soon");
    assert.equal(reminders.length, 1, "one reminder for the dispute");
    const stripe = await stripeRefunds(w.stripe, pay.pi);
    assert.deepEqual(stripe.refunds.map((r) => r.amount), [2500]);
    const txn = await other.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_refunded, 2500);
    assert.equal(txn.amount_reserved, 0);
    const verified = await w.t.services.audit.verify();
    assert.equal(verified.ok, true, JSON.stringify(verified));
  }, { file: true });
});

Deno.test("isolates: the fraud live pass and sweep on both at once raise each alert once", async () => {
  const t = await createTestApp({ file: true });
  const other = await createIsolateOf(t);
  try {
    const s = generateStream(T0, 5, 30);
    // the stream's events split across the two isolates, as Deploy spreads deliveries
    await Promise.all([
      (async () => {
        for (const e of s.events.filter((_, i) => i % 2 === 0)) {
          await t.services.stripeEvents.apply(e);
        }
      })(),
      (async () => {
        for (const e of s.events.filter((_, i) => i % 2 === 1)) {
          await other.services.stripeEvents.apply(e);
        }
      })(),
    ]);
    t.clock.advance(WALK_LAG_MS);
    await Promise.all([
      t.services.fraud.live({ trigger: "test" }),
      other.services.fraud.live({ trigger: "test" }),
      runPeriodicTask(t.services, FRAUD_SWEEP_TASK),
      runPeriodicTask(other.services, FRAUD_SWEEP_TASK),
    ]);
    const alerts = await allFraudAlerts(t);
    assert.ok(alerts.length > 0);
    const keys = alerts.map((a) => `${a.subject}|${a.rule}`);
    assert.equal(new Set(keys).size, keys.length, `one alert per subject and rule: ${keys}`);
    for (const a of alerts) {
      const hits = a.signals.map((x) => `${x.rule}|${x.transaction_id}|${x.at}`);
      assert.equal(new Set(hits).size, hits.length, `no signal twice on ${a.id}`);
    }
    const verified = await t.services.audit.verify();
    assert.equal(verified.ok, true, JSON.stringify(verified));
    // the same stream through one isolate, in order, leaves the same alerts and customers
    const one = await createTestApp();
    try {
      for (const e of s.events) await one.services.stripeEvents.apply(e);
      one.clock.advance(WALK_LAG_MS);
      await one.services.fraud.live({ trigger: "test" });
      assert.deepEqual(
        keys.sort(),
        (await allFraudAlerts(one)).map((a) => `${a.subject}|${a.rule}`).sort(),
      );
      for (const id of [...s.ordinary.slice(0, 10), ...Object.values(s.injected)]) {
        const [a, b] = await Promise.all([
          other.services.customers.get(id, { limit: 100 }),
          one.services.customers.get(id, { limit: 100 }),
        ]);
        assert.deepEqual([a.balances, a.aggregates], [b.balances, b.aggregates], id);
      }
    } finally {
      await one.close();
    }
  } finally {
    await other.close();
    await t.close();
  }
});

Deno.test("isolates: the authorization expiry sweep on both at once raises one alert per authorization", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const held = [
      await authorizeAtStripe(w.stripe, 4000, "a@example.com"),
      await authorizeAtStripe(w.stripe, 5000, "b@example.com"),
    ];
    await w.deliver();
    w.clock.advance(6 * 24 * 3600_000 + 60_000);
    const counts = await Promise.all([
      w.t.services.retries.sweepExpiringAuthorizations(),
      other.t.services.retries.sweepExpiringAuthorizations(),
      runPeriodicTask(other.t.services, "authorization-expiry").then(() => 0),
    ]);
    assert.ok(counts[0] + counts[1] <= 2, String(counts));
    const alerts = (await listAllOpsAlerts(w.t.kv)).filter((a) =>
      a.kind === "authorization_expiring"
    );
    assert.equal(alerts.length, 2, "one per authorization");
    const txns = await Promise.all(held.map((h) => w.t.services.transactions.get(h.pi.id)));
    assert.deepEqual(
      alerts.map((a) => a.transaction_id).sort(),
      txns.map((t) => t.id).sort(),
    );
  }, { file: true });
});
