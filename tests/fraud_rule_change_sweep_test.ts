/**
 * A rule change applies to history at the next sweep (README "Fraud
 * detection", Tuning): the sweep after a tightening raises the alerts the
 * backtest of that change showed (`only_proposed`), not only alerts on
 * payments evaluated from then on.
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders, sendJson } from "./helpers/identity.ts";
import { generateStream } from "./helpers/fraud_stream.ts";
import { allFraudAlerts } from "./helpers/fraud.ts";
import { T0 } from "./helpers/stripe_objects.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

const F = "/api/admin/payments/fraud";

Deno.test("the sweep after a tightening raises the alerts its backtest showed", async () => {
  const t = await createTestApp();
  try {
    t.clock.set(T0 * 1000);
    const s = generateStream(T0, 7, 60);
    for (const e of s.events) await t.services.stripeEvents.apply(e);
    t.clock.advance(WALK_LAG_MS);
    await t.services.fraud.live({ trigger: "test" });
    await t.services.fraud.sweep({ trigger: "test" });
    const before = new Set((await allFraudAlerts(t)).map((a) => a.id));

    const admin = await createAdmin(t, "admin");
    const analyst = await createAdmin(t, "analyst");
    const change = { velocity: { watch_at: 3, alert_at: 4 } };
    const bt = await sendJson(t, "POST", `${F}/rules/backtest`, authHeaders(analyst), {
      days: 90,
      rules: change,
    });
    assert.equal(bt.status, 200, JSON.stringify(bt.body));
    const shown = (bt.body.only_proposed as string[]).sort();
    assert.ok(shown.length > 0, "the tightening adds alerts over history");

    const put = await sendJson(
      t,
      "PUT",
      `${F}/rules/velocity`,
      otpHeaders(t, admin),
      change.velocity,
    );
    assert.equal(put.status, 200, JSON.stringify(put.body));
    t.clock.advance(WALK_LAG_MS);
    const run = await t.services.fraud.sweep({ trigger: "test" });
    const raised = (await allFraudAlerts(t)).filter((a) => !before.has(a.id))
      .map((a) => `${a.subject}|${a.rule}`).sort();
    assert.deepEqual(raised, shown);
    assert.equal(run.alerts_raised, shown.length);
    // the next sweep walks only what changed since
    t.clock.advance(WALK_LAG_MS);
    const next = await t.services.fraud.sweep({ trigger: "test" });
    assert.equal(next.subjects, 0);
  } finally {
    await t.close();
  }
});
