/**
 * PUT /fraud/rules/{rule}: a change that can only make a rule raise fewer
 * alerts or fewer points waits for a second admin (`fraud.rule_loosen`, the
 * approvals queue), as disabling does; tightening applies at once; settings
 * that contradict each other are refused naming the field (README "Tuning",
 * "Two-person rules").
 */
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  otpHeaders,
  sendJson,
  type TestAdmin,
} from "./helpers/identity.ts";
import { defaultRuleSettings, type RuleSettings } from "../domain/fraud.ts";
import { loosenedFields } from "../domain/fraud_rule_change.ts";

const BASE = "/api/admin/payments";

function call(
  t: TestApp,
  method: string,
  path: string,
  h: Record<string, string>,
  b?: unknown,
) {
  return sendJson(t, method, path, h, b);
}

async function ruleOf(t: TestApp, a: TestAdmin, rule: string): Promise<RuleSettings> {
  const r = await call(t, "GET", `${BASE}/fraud/rules`, authHeaders(a));
  return r.body.data.find((x: RuleSettings) => x.rule === rule);
}

const LOOSENING: [string, Record<string, unknown>][] = [
  ["velocity", { alert_at: 12 }],
  ["velocity", { alert_at: null, watch_at: null }],
  ["velocity", { alert_points: 0, watch_points: 0 }],
  ["velocity", { window_minutes: 10 }],
  ["velocity", { severity: "low" }],
  ["high_value_burst", { amounts: { usd: 90_000 } }],
  ["high_value_burst", { amounts: {} }],
  ["new_customer_high_value", { watch_amounts: { usd: 15_000 } }],
  ["failed_attempts", { extra_at: null }],
  ["amount_anomaly", { min_ratio: 5 }],
  ["score", { alert_at: 90, extra_at: 95 }],
];

Deno.test("PUT /fraud/rules: a loosening change waits for a second admin; tightening is at once", async (ctx) => {
  const t = await createTestApp();
  try {
    const admin = await createAdmin(t, "admin");
    const admin2 = await createAdmin(t, "admin");
    const analyst = await createAdmin(t, "analyst");

    for (const [rule, patch] of LOOSENING) {
      await ctx.step(
        `${rule} ${JSON.stringify(patch)} is 202, applied only when approved`,
        async () => {
          const before = await ruleOf(t, analyst, rule);
          const r = await call(
            t,
            "PUT",
            `${BASE}/fraud/rules/${rule}`,
            otpHeaders(t, admin),
            patch,
          );
          assert.equal(r.status, 202, JSON.stringify(r.body));
          assert.equal(r.body.approval.kind, "fraud.rule_loosen");
          assert.equal(r.body.approval.status, "pending");
          assert.deepEqual(await ruleOf(t, analyst, rule), before, "not applied yet");
          const id = r.body.approval.id;
          const self = await call(
            t,
            "POST",
            `/api/admin/approvals/${id}/approve`,
            otpHeaders(t, admin),
            {},
          );
          assert.equal(self.status, 403, "not the requester");
          assert.deepEqual(await ruleOf(t, analyst, rule), before);
          const ok = await call(
            t,
            "POST",
            `/api/admin/approvals/${id}/approve`,
            otpHeaders(t, admin2),
            {},
          );
          assert.equal(ok.status, 200, JSON.stringify(ok.body));
          const after = await ruleOf(t, analyst, rule);
          assert.equal(after.version, before.version + 1);
          for (const [k, v] of Object.entries(patch)) {
            assert.deepEqual(after[k as keyof RuleSettings], v, k);
          }
        },
      );
    }

    await ctx.step("tightening applies at once (200)", async () => {
      for (
        const [rule, patch] of [
          ["velocity", { alert_at: 9, alert_points: 60 }],
          ["velocity", { window_minutes: 60, severity: "critical" }],
          ["high_value_burst", { amounts: { usd: 40_000, chf: 45_000 } }],
          ["failed_attempts", { extra_at: 2 }],
          ["amount_anomaly", { min_ratio: null }],
        ] as const
      ) {
        const before = await ruleOf(t, analyst, rule);
        const r = await call(t, "PUT", `${BASE}/fraud/rules/${rule}`, otpHeaders(t, admin), patch);
        assert.equal(r.status, 200, `${rule} ${JSON.stringify(patch)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.version, before.version + 1);
      }
    });

    await ctx.step("settings that contradict each other are 422 naming the field", async () => {
      const cases: [string, Record<string, unknown>, string][] = [
        ["payment_method_churn", { alert_at: 2 }, "body.alert_at"], // below watch_at 3
        ["payment_method_churn", { watch_at: 6 }, "body.watch_at"], // above alert_at 5
        ["new_customer_high_value", { watch_amounts: { usd: 30_000 } }, "body.watch_amounts.usd"],
        ["score", { extra_at: 50 }, "body.extra_at"], // critical below the alert threshold
      ];
      for (const [rule, patch, path] of cases) {
        const before = await ruleOf(t, analyst, rule);
        const r = await call(t, "PUT", `${BASE}/fraud/rules/${rule}`, otpHeaders(t, admin), patch);
        assert.equal(r.status, 422, `${rule} ${JSON.stringify(patch)}`);
        assert.equal(r.body.errors[0].path, path);
        assert.deepEqual(await ruleOf(t, analyst, rule), before);
      }
    });
  } finally {
    await t.close();
  }
});

Deno.test("loosenedFields(): what can only raise fewer alerts or points", () => {
  const s = defaultRuleSettings();
  assert.deepEqual(loosenedFields(s.velocity, { alert_at: 11, watch_at: 6 }), ["alert_at"]);
  assert.deepEqual(loosenedFields(s.velocity, { watch_at: null }), ["watch_at"]);
  assert.deepEqual(loosenedFields(s.velocity, { alert_at: 10, alert_points: 50 }), []);
  assert.deepEqual(loosenedFields(s.velocity, { severity: "medium" }), ["severity"]);
  const noGbp = { ...s.high_value_burst.amounts };
  delete noGbp.gbp;
  assert.deepEqual(loosenedFields(s.high_value_burst, { amounts: noGbp }), ["amounts"]);
  assert.deepEqual(
    loosenedFields(s.high_value_burst, { amounts: { ...noGbp, gbp: 40_000, chf: 1 } }),
    [],
  );
  // amount_anomaly: without a configured count it needs 3 earlier payments; no ratio is stricter
  assert.deepEqual(loosenedFields(s.amount_anomaly, { extra_at: null }), []);
  assert.deepEqual(loosenedFields({ ...s.amount_anomaly, extra_at: 2 }, { extra_at: null }), [
    "extra_at",
  ]);
  assert.deepEqual(loosenedFields(s.amount_anomaly, { min_ratio: null }), []);
  assert.deepEqual(loosenedFields({ ...s.amount_anomaly, min_ratio: null }, { min_ratio: 2 }), [
    "min_ratio",
  ]);
  assert.deepEqual(loosenedFields(s.velocity, { enabled: true, shadow: false }), []);
});

Deno.test("PUT /fraud/rules: a pause is asked for on its own; settings riding along are 422 and nothing is queued", async () => {
  const t = await createTestApp();
  try {
    const admin = await createAdmin(t, "admin");
    const riders: Record<string, unknown>[] = [
      { enabled: false, watch_points: 0, alert_points: 0 },
      { enabled: false, alert_at: 1000, watch_at: 999, severity: "low" },
      { shadow: true, window_minutes: 5 },
    ];
    for (const patch of riders) {
      const r = await call(t, "PUT", `${BASE}/fraud/rules/velocity`, otpHeaders(t, admin), patch);
      assert.equal(r.status, 422, JSON.stringify(patch));
      const named = (r.body.errors as { path: string }[]).map((e) => e.path).sort();
      const expected = Object.keys(patch).filter((k) => k !== "enabled" && k !== "shadow")
        .map((k) => `body.${k}`).sort();
      assert.deepEqual(named, expected);
    }
    const queued = await call(t, "GET", "/api/admin/approvals?status=pending", authHeaders(admin));
    assert.deepEqual(queued.body.data, []);
    // the pause alone still waits for a second admin
    const pause = await call(t, "PUT", `${BASE}/fraud/rules/velocity`, otpHeaders(t, admin), {
      enabled: false,
    });
    assert.equal(pause.status, 202);
    assert.equal(pause.body.approval.kind, "fraud.rule_disable");
  } finally {
    await t.close();
  }
});

Deno.test("PUT /fraud/rules: a change that changes nothing makes no new version", async () => {
  const t = await createTestApp();
  try {
    const admin = await createAdmin(t, "admin");
    const before = await ruleOf(t, admin, "velocity");
    for (
      const patch of [{}, { alert_at: before.alert_at }, {
        amounts: JSON.parse('{"__proto__": 5}'),
      }]
    ) {
      const r = await call(t, "PUT", `${BASE}/fraud/rules/velocity`, otpHeaders(t, admin), patch);
      assert.ok(r.status === 200 || r.status === 422, `${r.status} ${JSON.stringify(r.body)}`);
    }
    assert.equal((await ruleOf(t, admin, "velocity")).version, before.version);
  } finally {
    await t.close();
  }
});

Deno.test("PUT /fraud/rules/{rule}: the document declares the 202's approval as the queue's ApprovalRequest", async () => {
  const t = await createTestApp();
  try {
    const doc = await (await t.app.request("/openapi.json")).json();
    const put = doc.paths["/api/admin/payments/fraud/rules/{rule}"].put;
    const schema = put.responses["202"].content["application/json"].schema;
    const named = schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
    assert.equal(named.properties.approval.$ref, "#/components/schemas/ApprovalRequest");
  } finally {
    await t.close();
  }
});
