/**
 * A setting the rule does not use (README "Fraud detection", Tuning) is 422
 * naming the field and the rule's settings: on `PUT /fraud/rules/{rule}`
 * (nothing written, no request queued, so none blocks a real change), in
 * the backtest's `rules`, and as an approved change stored earlier applies
 * (the request fails, no new version).
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import {
  adminContext,
  authHeaders,
  createAdmin,
  otpHeaders,
  sendJson,
} from "./helpers/identity.ts";

const F = "/api/admin/payments/fraud";

const UNUSED: [string, Record<string, unknown>, string][] = [
  ["velocity", { amounts: { usd: 1 } }, "amounts"],
  ["velocity", { extra_at: 2 }, "extra_at"],
  ["velocity", { min_ratio: 1 }, "min_ratio"],
  ["early_fraud_warning", { alert_at: 5 }, "alert_at"],
  ["stripe_risk", { watch_at: 1 }, "watch_at"],
  ["stripe_risk", { window_minutes: 60 }, "window_minutes"],
  ["new_customer_high_value", { alert_at: 2 }, "alert_at"],
  ["score", { alert_points: 10 }, "alert_points"],
  ["high_value_burst", { watch_amounts: { usd: 1 } }, "watch_amounts"],
];

Deno.test("PUT /fraud/rules and the backtest: a setting the rule does not use is 422 naming it; nothing written or queued", async () => {
  const t = await createTestApp();
  try {
    const admin = await createAdmin(t, "admin");
    const analyst = await createAdmin(t, "analyst");
    const before = (await sendJson(t, "GET", `${F}/rules`, authHeaders(analyst))).body;
    for (const [rule, patch, field] of UNUSED) {
      const what = `${rule} ${JSON.stringify(patch)}`;
      const r = await sendJson(t, "PUT", `${F}/rules/${rule}`, otpHeaders(t, admin), patch);
      assert.equal(r.status, 422, `${what}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), [`body.${field}`], what);
      assert.match(
        r.body.errors[0].message,
        new RegExp(`${rule} does not use ${field}; its settings`),
      );
      const bt = await sendJson(t, "POST", `${F}/rules/backtest`, authHeaders(analyst), {
        days: 30,
        rules: { [rule]: patch },
      });
      assert.equal(bt.status, 422, `backtest ${what}`);
      assert.deepEqual(
        bt.body.errors.map((e: { path: string }) => e.path),
        [`body.rules.${rule}.${field}`],
      );
    }
    const after = (await sendJson(t, "GET", `${F}/rules`, authHeaders(analyst))).body;
    assert.deepEqual(after, before, "no new version");
    const queue = await sendJson(t, "GET", "/api/admin/approvals", authHeaders(admin));
    assert.deepEqual(queue.body.data, [], "no request waits for a second admin");
    // so a real loosening of velocity is asked for, not held up by a meaningless one
    const real = await sendJson(t, "PUT", `${F}/rules/velocity`, otpHeaders(t, admin), {
      alert_at: 12,
    });
    assert.equal(real.status, 202, JSON.stringify(real.body));
    // the settings a rule uses still apply
    const ok = await sendJson(t, "PUT", `${F}/rules/amount_anomaly`, otpHeaders(t, admin), {
      min_ratio: 2,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  } finally {
    await t.close();
  }
});

Deno.test("an approved change stored earlier with a setting the rule does not use fails cleanly", async () => {
  const t = await createTestApp();
  try {
    const asker = await createAdmin(t, "admin");
    const approver = await createAdmin(t, "admin");
    // as a PUT queued it before such settings were refused
    const stored = await t.services.approvals.request(
      "fraud.rule_loosen",
      { rule: "velocity", patch: { min_ratio: 1 }, base_version: 1 },
      adminContext(asker),
      {
        summary: "loosen fraud rule velocity (min_ratio)",
        target: { type: "fraud_rule", id: "velocity" },
      },
    );
    const r = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${stored.id}/approve`,
      otpHeaders(t, approver),
      { note: "ok" },
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.approval.status, "failed", JSON.stringify(r.body));
    assert.match(r.body.approval.error, /body.min_ratio: velocity does not use min_ratio/);
    const rules = (await sendJson(t, "GET", `${F}/rules`, authHeaders(approver))).body.data;
    const velocity = rules.find((x: { rule: string }) => x.rule === "velocity");
    assert.equal(velocity.version, 1, "no new version");
    assert.equal(velocity.min_ratio, null);
  } finally {
    await t.close();
  }
});
