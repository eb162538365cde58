/**
 * Radar's early fraud warnings and reviews whose events never arrive (the
 * endpoint down past Stripe's retries, the event type not enabled on it) are
 * recovered by the backfill (README "Stripe webhooks", lost events): the signal is on the
 * transaction, counted once in the customer's totals, and raises its fraud
 * alert, whether the events come before the backfill, after it, or never.
 */
import assert from "node:assert/strict";
import {
  appFor,
  deliver,
  quiesce,
  reconcile,
  type ShapeCtx,
  type ShapeWorld,
  withShape,
} from "./helpers/money_orders.ts";
import type { TestApp } from "./helpers/app.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

interface Paid {
  customer: string;
  pi: string;
}

/**
 * A payment the issuer warns about, and one Radar reviews and an analyst approves;
 * the payments are written to `out`. `readOpen`: reconciliation reads Stripe while
 * the review is still open.
 */
function radarShape(out: { warned?: Paid; reviewed?: Paid }, readOpen = false) {
  return async (s: ShapeCtx) => {
    const pay = async (pm: string, amount: number): Promise<Paid> => {
      const customer = (await s.stripe.customers.create({ email: `${pm}@example.com` })).id;
      const pi = await s.stripe.paymentIntents.create({
        amount,
        currency: "usd",
        customer,
        payment_method: pm,
        confirm: true,
      });
      return { customer, pi: pi.id };
    };
    out.warned = await pay("pm_card_createEarlyFraudWarning", 3300);
    await s.settle();
    s.tick();
    out.reviewed = await pay("pm_card_riskLevelElevated", 4700);
    if (readOpen) await s.read();
    s.tick();
    const pi = await s.stripe.paymentIntents.retrieve(out.reviewed.pi);
    await s.stripe.reviews.approve(pi.review as string);
    await s.settle();
    // (what the shape returns is for runPlan's money check, not used here)
    return { customer: out.warned.customer, pi: out.warned.pi, charge: "" };
  };
}

const SIGNAL = /^(radar|review)\./;

/** What the service shows about the two payments and their customers, and the alerts raised. */
async function picture(t: TestApp, paid: { warned: Paid; reviewed: Paid }) {
  t.clock.advance(WALK_LAG_MS);
  await t.services.fraud.live({ trigger: "test" });
  const out: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(paid)) {
    const { id: _id, updated_at: _u, ...txn } = await t.services.transactions.get(p.pi);
    const totals = (await t.services.customers.aggregates(p.customer))?.totals;
    const alerts = (await t.services.fraud.listAlerts({ limit: 100, customer: p.customer })).data
      .map((a) => [a.rule, a.severity, a.status]);
    out[name] = { risk_signals: txn.risk_signals, status: txn.status, totals, alerts };
  }
  return out;
}

async function withRadarShape(
  fn: (w: ShapeWorld, paid: { warned: Paid; reviewed: Paid }) => Promise<void>,
  readOpen = false,
) {
  const paid: { warned?: Paid; reviewed?: Paid } = {};
  await withShape(
    radarShape(paid, readOpen),
    (w) => fn(w, paid as { warned: Paid; reviewed: Paid }),
  );
}

Deno.test("a warning and a review whose events were lost are recovered by the backfill, counted once", async () => {
  await withRadarShape(async (w, paid) => {
    const signals = w.events.filter((e) => SIGNAL.test(e.type));
    assert.deepEqual(signals.map((e) => e.type), [
      "radar.early_fraud_warning.created",
      "review.opened",
      "review.closed",
    ]);
    const rest = w.events.filter((e) => !SIGNAL.test(e.type));

    // Stripe's order, every event delivered: the picture the others must end in.
    const all = await appFor(w, 0);
    let expected;
    try {
      await deliver(all, w.events, 1);
      await quiesce(all);
      expected = await picture(all, paid);
    } finally {
      await all.close();
    }
    const warned = expected.warned as {
      risk_signals: { early_fraud_warnings: unknown[] };
      totals: { early_fraud_warnings: number };
      alerts: unknown[];
    };
    assert.equal(warned.risk_signals.early_fraud_warnings.length, 1);
    assert.equal(warned.totals.early_fraud_warnings, 1);
    assert.deepEqual(warned.alerts, [["early_fraud_warning", "high", "open"]]);
    const reviewed = expected.reviewed as { totals: { reviews_opened: number } };
    assert.equal(reviewed.totals.reviews_opened, 1);

    const t = await appFor(w, 0);
    try {
      await deliver(t, rest, 1);
      const lost = await t.services.transactions.get(paid.warned.pi);
      assert.deepEqual(lost.risk_signals.early_fraud_warnings, [], "the warning's event was lost");
      await reconcile(t, w);
      await quiesce(t);
      assert.deepEqual(await picture(t, paid), expected, "recovered by the backfill");
      // the lost events arrive after all, and the backfill runs again: nothing counted twice
      await deliver(t, signals, 1);
      await reconcile(t, w);
      await quiesce(t);
      assert.deepEqual(await picture(t, paid), expected, "once, whichever came first");
    } finally {
      await t.close();
    }
  });
});

Deno.test("a review read open by reconciliation, then its events in any order: closed, counted once", async () => {
  await withRadarShape(async (w, paid) => {
    const opened = w.events.findIndex((e) => e.type === "review.opened");
    const closed = w.events.findIndex((e) => e.type === "review.closed");
    const [read] = w.reads;
    assert.ok(read.objects.some((o) => o.object === "review" && o.open), "read while open");
    for (const late of [[closed, opened], [opened, closed], [closed], []]) {
      // reconciliation read the review open; its events come after, or never
      const t = await appFor(w, -600);
      try {
        const early = w.events.filter((_, i) => i !== opened && i !== closed);
        await deliver(t, early, 1);
        for (const o of read.objects) {
          await t.services.stripeEvents.applyObject(o, { answeredAt: read.answeredAt });
        }
        await deliver(t, late.map((i) => w.events[i]), 1);
        if (!late.includes(closed)) await reconcile(t, w); // Stripe's state now: closed
        await quiesce(t);
        const txn = await t.services.transactions.get(paid.reviewed.pi);
        assert.deepEqual(
          txn.risk_signals.reviews.map((r) => [r.open, r.closed_reason]),
          [[false, "approved"]],
          `late: ${late.map((i) => w.events[i].type)}`,
        );
        const totals = (await t.services.customers.aggregates(paid.reviewed.customer))?.totals;
        assert.equal(totals?.reviews_opened, 1);
      } finally {
        await t.close();
      }
    }
  }, true);
});
