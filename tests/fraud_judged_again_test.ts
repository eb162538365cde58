/**
 * A payment an alert already covered is judged (README "Fraud detection",
 * Alerts): once the alert is resolved, evaluating that payment again (the
 * customer's next payment, a decline, a sweep over history) raises nothing;
 * only a new payment hitting a rule raises a new alert. Per-payment rules
 * (new_customer_high_value) through signed deliveries from the emulator, a
 * velocity burst through ingest, by the live pass and by the sweep.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { confirmedPayment } from "./helpers/emulator.ts";
import { withEmulatorApp } from "./helpers/webhooks.ts";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { auditEntries, authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { allFraudAlerts } from "./helpers/fraud.ts";
import { chargeEvent, otherCard, T0 } from "./helpers/stripe_objects.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";
import type { FraudAlert } from "../domain/fraud.ts";

const F = "/api/admin/payments/fraud";

type Walker = "live" | "sweep";

function walk(t: TestApp, walker: Walker) {
  t.clock.advance(WALK_LAG_MS);
  return walker === "live"
    ? t.services.fraud.live({ trigger: "test" })
    : t.services.fraud.sweep({ trigger: "test" });
}

async function resolveLegitimate(t: TestApp, analyst: TestAdmin, id: string) {
  const h = authHeaders(analyst);
  const a = await sendJson(t, "PATCH", `${F}/alerts/${id}`, h, { status: "investigating" });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const b = await sendJson(t, "PATCH", `${F}/alerts/${id}`, h, {
    status: "resolved_legitimate",
    note: "known buyer",
  });
  assert.equal(b.status, 200, JSON.stringify(b.body));
}

async function alertsOf(t: TestApp, subject: string): Promise<FraudAlert[]> {
  return (await allFraudAlerts(t)).filter((a) => a.subject === subject);
}

const summary = (alerts: FraudAlert[]) =>
  alerts.map((a) => `${a.rule} ${a.status} ${a.transactions.join(",")}`).sort();

async function declined(stripe: Stripe, customer: string) {
  await assert.rejects(
    confirmedPayment(stripe, { amount: 1500, customer, payment_method: "pm_card_chargeDeclined" }),
  );
}

Deno.test("a payment an alert resolved legitimate covered raises nothing again (emulator, live pass and sweep)", async () => {
  await withEmulatorApp(async ({ t, stripe, settle }) => {
    const analyst = await createAdmin(t, "analyst");
    const cus = await stripe.customers.create({ email: "new@example.com" });
    const big = await confirmedPayment(stripe, {
      amount: 30_000,
      customer: cus.id,
      payment_method: "pm_card_amex",
    });
    await settle();
    const bigTxn = (await t.services.transactions.get(big.id)).id;
    await walk(t, "live");
    const [first] = await alertsOf(t, cus.id);
    assert.deepEqual(summary([first]), [`new_customer_high_value open ${bigTxn}`]);
    await resolveLegitimate(t, analyst, first.id);

    // the customer's next payment, below the rule's amounts: the live pass evaluates again
    await confirmedPayment(stripe, { amount: 1000, customer: cus.id });
    await settle();
    await walk(t, "live");
    const judged = [`new_customer_high_value resolved_legitimate ${bigTxn}`];
    assert.deepEqual(summary(await alertsOf(t, cus.id)), judged);
    // a decline (its watch points may make a score of their own, a new signal), and a sweep
    // over all of history (its first run)
    await declined(stripe, cus.id);
    await settle();
    await walk(t, "live");
    await walk(t, "sweep");
    const ofRule = async () =>
      summary((await alertsOf(t, cus.id)).filter((a) => a.rule === "new_customer_high_value"));
    assert.deepEqual(await ofRule(), judged);
    const raised = (await auditEntries(t.kv)).filter((e) =>
      e.action === "fraud_alert.raise" &&
      (e.after as { rule?: string } | null)?.rule === "new_customer_high_value"
    );
    assert.equal(raised.length, 1, "raised once");

    // a new payment hitting the rule is a new signal: a new alert, that payment only
    const again = await confirmedPayment(stripe, {
      amount: 25_000,
      customer: cus.id,
      payment_method: "pm_card_amex",
    });
    await settle();
    await walk(t, "live");
    await walk(t, "sweep");
    const againTxn = (await t.services.transactions.get(again.id)).id;
    assert.deepEqual(await ofRule(), [
      `new_customer_high_value open ${againTxn}`,
      `new_customer_high_value resolved_legitimate ${bigTxn}`,
    ]);
  });
});

for (const walker of ["live", "sweep"] as const) {
  Deno.test(`${walker}: a velocity burst judged legitimate does not come back for the same payments; a new burst does`, async () => {
    const t = await createTestApp();
    try {
      const analyst = await createAdmin(t, "analyst");
      const cus = "cus_burstJudged";
      const card = otherCard(31);
      const T = T0 - 7200;
      const apply = async (e: Stripe.Event) => {
        await t.services.stripeEvents.apply(e);
        t.clock.advance(1_000);
      };
      const burst = Array.from({ length: 10 }, (_, i) => chargeEvent(cus, T + i * 30, { card }));
      for (const e of burst) await apply(e);
      await walk(t, walker);
      // the burst's velocity alert, and the score its watch-level payments made
      const judged = await alertsOf(t, cus);
      assert.deepEqual(judged.map((a) => a.rule).sort(), ["score", "velocity"]);
      for (const a of judged) await resolveLegitimate(t, analyst, a.id);
      const before = summary(await alertsOf(t, cus));
      const covered = judged.flatMap((a) => a.transactions);

      // an hour later, one payment (no burst), then a decline: the burst's payments evaluated again
      await apply(chargeEvent(cus, T + 3600, { card }));
      await walk(t, walker);
      await apply(chargeEvent(cus, T + 3700, { card, failed: true }));
      await walk(t, walker);
      // the other walker, over all of history
      await walk(t, walker === "live" ? "sweep" : "live");
      assert.deepEqual(summary(await alertsOf(t, cus)), before);

      // a payment delivered late inside the judged burst's window makes a new burst: raised
      const late = chargeEvent(cus, T + 9 * 30 + 10, { card });
      await apply(late);
      await walk(t, walker);
      const alerts = await alertsOf(t, cus);
      const open = alerts.filter((a) => a.status === "open");
      assert.equal(open.length, 1, summary(alerts).join("\n"));
      assert.equal(open[0].rule, "velocity");
      const lateId = (await t.services.transactions.get(
        (late.data.object as Stripe.Charge).payment_intent as string,
      )).id;
      assert.ok(open[0].transactions.includes(lateId), open[0].transactions.join(","));
      assert.ok(
        open[0].transactions.every((x) => !covered.includes(x)),
        "none of the judged payments again",
      );
    } finally {
      await t.close();
    }
  });
}
