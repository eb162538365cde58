/**
 * Disabling a rule or putting it in shadow mode is a change of its own
 * (README "Fraud detection", Tuning): other settings beside it are 422 on
 * `PUT /fraud/rules/{rule}`, and the backtest refuses what a PUT refuses,
 * with the same message, naming the rule's field
 * (`body.rules.<rule>.<field>`). The OpenAPI document says which refunds
 * resolving an alert legitimate voids: those asked for through that alert.
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders, sendJson } from "./helpers/identity.ts";

const F = "/api/admin/payments/fraud";

const PAUSES: [string, Record<string, unknown>, string[]][] = [
  ["velocity", { enabled: false, alert_at: 12 }, ["alert_at"]],
  ["score", { shadow: true, alert_at: 70, extra_at: 90 }, ["alert_at", "extra_at"]],
];

Deno.test("the backtest refuses a pause with other settings, as a PUT does, with the same message", async () => {
  const t = await createTestApp();
  try {
    const admin = await createAdmin(t, "admin");
    const analyst = await createAdmin(t, "analyst");
    for (const [rule, patch, fields] of PAUSES) {
      const what = `${rule} ${JSON.stringify(patch)}`;
      const put = await sendJson(t, "PUT", `${F}/rules/${rule}`, otpHeaders(t, admin), patch);
      assert.equal(put.status, 422, `PUT ${what}: ${JSON.stringify(put.body)}`);
      const bt = await sendJson(t, "POST", `${F}/rules/backtest`, authHeaders(analyst), {
        days: 30,
        rules: { [rule]: patch },
      });
      assert.equal(bt.status, 422, `backtest ${what}: ${JSON.stringify(bt.body)}`);
      const errs = (r: typeof put, prefix: string) =>
        (r.body.errors as { path: string; message: string }[]).map((e) => ({
          field: e.path.slice(prefix.length),
          message: e.message,
        }));
      assert.deepEqual(errs(bt, `body.rules.${rule}.`), errs(put, "body."), what);
      assert.deepEqual(errs(bt, `body.rules.${rule}.`).map((e) => e.field), fields, what);
      assert.match(bt.body.errors[0].message, /is a change of its own/);
    }
    // a pause alone is tried as it is; so are settings alone, and a rule already off
    for (
      const rules of [
        { velocity: { enabled: false } },
        { velocity: { alert_at: 12 } },
        { score: { shadow: true } },
      ]
    ) {
      const bt = await sendJson(t, "POST", `${F}/rules/backtest`, authHeaders(analyst), {
        days: 30,
        rules,
      });
      assert.equal(bt.status, 200, `${JSON.stringify(rules)}: ${JSON.stringify(bt.body)}`);
    }
  } finally {
    await t.close();
  }
});

Deno.test("OpenAPI: resolving an alert legitimate voids the refunds asked for through it", async () => {
  const t = await createTestApp();
  try {
    const doc = await (await t.app.request("/openapi.json")).json();
    const patch = doc.paths["/api/admin/payments/fraud/alerts/{id}"].patch;
    assert.doesNotMatch(patch.description, /fraudulent refunds of its payments/);
    assert.match(patch.description, /refunds asked for through this alert/);
    const voided = patch.responses["200"].content["application/json"].schema;
    const schema = doc.components.schemas[voided.$ref.split("/").at(-1)];
    type Part = { properties?: Record<string, { description?: string }> };
    const parts = [schema, ...(schema.allOf ?? [])] as Part[];
    const field = parts.find((p) => p.properties?.voided_refunds)?.properties?.voided_refunds;
    assert.match(field?.description ?? "", /through this alert/);
  } finally {
    await t.close();
  }
});
