/**
 * A rule's thresholds that count things (payments, declines, cards,
 * customers, disputes, earlier payments, points) are whole numbers, and so
 * are amounts (minor units): a fraction is 422 naming the field, on
 * `PUT /fraud/rules/{rule}` (a tightening, and a loosening that would wait
 * for a second admin) and on the backtest, and nothing is written or queued.
 * amount_anomaly's watch and alert levels are a robust z, which may be
 * fractional (README "Rules and their defaults", "Tuning").
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders, sendJson } from "./helpers/identity.ts";
import { defaultRuleSettings, type RuleSettings } from "../domain/fraud.ts";
import { ruleChangeErrors } from "../domain/fraud_rule_change.ts";

const F = "/api/admin/payments/fraud";

const FRACTIONS: [string, Record<string, unknown>, string][] = [
  ["velocity", { alert_at: 9.5 }, "alert_at"],
  ["velocity", { alert_at: 10.5 }, "alert_at"],
  ["velocity", { watch_at: 6.5 }, "watch_at"],
  ["failed_attempts", { alert_at: 7.5 }, "alert_at"],
  ["failed_attempts", { extra_at: 2.5 }, "extra_at"],
  ["payment_method_churn", { watch_at: 2.5 }, "watch_at"],
  ["high_value_burst", { alert_at: 2.5 }, "alert_at"],
  ["new_customer_high_value", { amounts: { usd: 20_000.5 } }, "amounts.usd"],
  ["dispute_history", { alert_at: 1.5 }, "alert_at"],
  ["score", { alert_at: 59.5 }, "alert_at"],
  ["score", { extra_at: 80.5 }, "extra_at"],
  ["amount_anomaly", { extra_at: 3.5 }, "extra_at"],
  ["high_value_burst", { amounts: { usd: 40_000.5 } }, "amounts.usd"],
  ["new_customer_high_value", { watch_amounts: { usd: 9_000.5 } }, "watch_amounts.usd"],
];

Deno.test("PUT /fraud/rules and the backtest: a count threshold with a fraction is 422 naming it; nothing written or queued", async () => {
  const t = await createTestApp();
  try {
    const admin = await createAdmin(t, "admin");
    const analyst = await createAdmin(t, "analyst");
    const before = (await sendJson(t, "GET", `${F}/rules`, authHeaders(analyst))).body;
    for (const [rule, patch, field] of FRACTIONS) {
      const r = await sendJson(t, "PUT", `${F}/rules/${rule}`, otpHeaders(t, admin), patch);
      assert.equal(r.status, 422, `${rule} ${JSON.stringify(patch)}: ${JSON.stringify(r.body)}`);
      const paths = r.body.errors.map((e: { path: string }) => e.path);
      assert.deepEqual(paths, [`body.${field}`], `${rule} ${JSON.stringify(patch)}`);
      const bt = await sendJson(t, "POST", `${F}/rules/backtest`, authHeaders(analyst), {
        days: 30,
        rules: { [rule]: patch },
      });
      assert.equal(bt.status, 422, `backtest ${rule} ${JSON.stringify(patch)}`);
      assert.deepEqual(
        bt.body.errors.map((e: { path: string }) => e.path),
        [`body.rules.${rule}.${field}`],
      );
    }
    const after = (await sendJson(t, "GET", `${F}/rules`, authHeaders(analyst))).body;
    assert.deepEqual(after, before, "no new version");
    const queue = await sendJson(t, "GET", "/api/admin/approvals", authHeaders(admin));
    assert.equal(queue.status, 200);
    assert.deepEqual(queue.body.data, [], "no request waits for a second admin");

    // amount_anomaly's levels are a robust z: 4.5 is a tightening, applied at once
    const z = await sendJson(t, "PUT", `${F}/rules/amount_anomaly`, otpHeaders(t, admin), {
      alert_at: 4.5,
    });
    assert.equal(z.status, 200, JSON.stringify(z.body));
    assert.equal(z.body.alert_at, 4.5);
  } finally {
    await t.close();
  }
});

Deno.test("an approved change is judged again as it applies: a fraction in a count threshold is refused there too", () => {
  // a request asked before thresholds had to be whole waits with its patch; the approval
  // applies it through the same check (rule_admin.ts applyRuleChange)
  const s = defaultRuleSettings();
  const velocity: RuleSettings = s.velocity;
  assert.deepEqual(ruleChangeErrors(velocity, { alert_at: 12.5 }).map((e) => e.path), [
    "body.alert_at",
  ]);
  assert.deepEqual(ruleChangeErrors(velocity, { alert_at: 12 }), []);
  assert.deepEqual(ruleChangeErrors(s.amount_anomaly, { alert_at: 5.5, watch_at: 4.5 }), []);
  assert.deepEqual(ruleChangeErrors(s.score, { extra_at: 90.5 }).map((e) => e.path), [
    "body.extra_at",
  ]);
});
