/**
 * Disputes, early fraud warnings and Stripe's risk level reach the rules
 * through the ingest commit: two disputes in 90 days, an actionable warning,
 * a `highest` risk level each raise their alert.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  chargeObject,
  disputeObject,
  earlyFraudWarningObject,
  otherCard,
  stripeEvent,
  T0,
  testId,
} from "./helpers/stripe_objects.ts";
import type { FraudAlert } from "../domain/fraud.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

Deno.test("disputes, an early fraud warning and Stripe's highest risk raise their alerts", async () => {
  await withTestApp(async (t) => {
    const customer = "cus_signals";
    const apply = (e: Parameters<typeof t.services.stripeEvents.apply>[0]) =>
      t.services.stripeEvents.apply(e);
    const charges = [];
    for (let i = 0; i < 3; i++) {
      const ch = chargeObject({
        id: testId("ch"),
        payment_intent: testId("pi"),
        customer,
        amount: 3000,
        created: T0 - (60 - i * 20) * 86_400,
        card: otherCard(7),
        risk: i === 2 ? { level: "highest", score: 91 } : undefined,
      });
      charges.push(ch);
      await apply(stripeEvent("charge.succeeded", ch, ch.created));
    }
    for (const [i, ch] of charges.slice(0, 2).entries()) {
      const du = disputeObject({
        charge: ch.id,
        payment_intent: ch.payment_intent as string,
        amount: 3000,
        created: T0 - (30 - i * 10) * 86_400,
      });
      await apply(stripeEvent("charge.dispute.created", du, du.created));
    }
    const w = earlyFraudWarningObject({
      charge: charges[2].id,
      payment_intent: charges[2].payment_intent as string,
      actionable: true,
      created: T0,
    });
    await apply(stripeEvent("radar.early_fraud_warning.created", w, T0));

    t.clock.advance(WALK_LAG_MS);
    await t.services.fraud.live({ trigger: "test" });
    const page = await t.services.fraud.listAlerts({ limit: 100, customer });
    const by = Object.fromEntries(page.data.map((a: FraudAlert) => [a.rule, a]));
    assert.deepEqual(Object.keys(by).sort(), [
      "dispute_history",
      "early_fraud_warning",
      "stripe_risk",
    ]);
    assert.equal(by.dispute_history.signals[0].evidence.disputes, 2);
    assert.equal(by.early_fraud_warning.severity, "high");
    assert.equal(by.early_fraud_warning.signals[0].evidence.actionable, true);
    assert.equal(by.stripe_risk.signals[0].evidence.risk_level, "highest");
  });
});
