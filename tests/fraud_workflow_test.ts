/**
 * The analysts' workflow through the routes: who may, the transitions and
 * their refusals (the second click, a missing note), snoozes, analyze with
 * no side effects, alerts shown on the customer and the transaction, rule
 * changes versioned and audited, shadow mode through a second person.
 */
import { knownCustomers } from "./helpers/fraud.ts";
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { authHeaders, createAdmin, jsonRequest, otpHeaders, sendJson } from "./helpers/identity.ts";
import { generateStream } from "./helpers/fraud_stream.ts";
import { T0 } from "./helpers/stripe_objects.ts";
import type { FraudAlert } from "../domain/fraud.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

const BASE = "/api/admin/payments";

async function setup() {
  const t = await createTestApp();
  const s = generateStream(T0, 3, 10);
  for (const e of s.events) await t.services.stripeEvents.apply(e);
  t.clock.advance(WALK_LAG_MS);
  const analyst = await createAdmin(t, "analyst");
  const viewer = await createAdmin(t, "viewer");
  const admin = await createAdmin(t, "admin");
  const admin2 = await createAdmin(t, "admin");
  return { t, s, analyst, viewer, admin, admin2 };
}

function call(
  t: TestApp,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
) {
  return sendJson(t, method, `${BASE}${path}`, headers, body);
}

async function alertOf(t: TestApp, a: TestAdmin, q: string): Promise<FraudAlert> {
  const r = await call(t, "GET", `/fraud/alerts?${q}`, authHeaders(a));
  assert.equal(r.status, 200);
  return r.body.data[0];
}

Deno.test("fraud workflow through the routes", async (ctx) => {
  const { t, s, analyst, viewer, admin, admin2 } = await setup();
  try {
    await ctx.step("a viewer may not read alerts; an analyst may not change rules", async () => {
      assert.equal((await call(t, "GET", "/fraud/alerts", authHeaders(viewer))).status, 403);
      const put = await call(t, "PUT", "/fraud/rules/velocity", otpHeaders(t, analyst), {
        alert_at: 12,
      });
      assert.equal(put.status, 403);
    });

    await ctx.step("analyze returns the signals and writes nothing", async () => {
      const r = await call(t, "POST", "/fraud/analyze", authHeaders(analyst), {
        customer_id: s.injected.velocity,
      });
      assert.equal(r.status, 200);
      assert.ok(
        r.body.signals.some((x: { rule: string; level: string }) =>
          x.rule === "velocity" && x.level === "alert"
        ),
      );
      assert.equal(
        (await call(t, "GET", "/fraud/alerts", authHeaders(analyst))).body.data.length,
        0,
      );
      const bad = await call(t, "POST", "/fraud/analyze", authHeaders(analyst), {});
      assert.equal(bad.status, 422);
      assert.equal(bad.body.errors[0].path, "body.transaction_id");
    });

    await ctx.step("a snoozed rule raises nothing for that customer", async () => {
      const until = new Date(t.clock.now() + 3600_000).toISOString();
      const r = await call(t, "POST", "/fraud/snoozes", authHeaders(analyst), {
        customer: s.injected.payment_method_churn,
        rule: "payment_method_churn",
        until,
        note: "known reseller, cards rotate",
      });
      assert.equal(r.status, 201);
      assert.match(r.body.id, /^fsz_/);
      await knownCustomers(t.kv, "cus_x");
      const past = await call(t, "POST", "/fraud/snoozes", authHeaders(analyst), {
        customer: "cus_x",
        rule: "velocity",
        until: "2020-01-01T00:00:00Z",
        note: "x",
      });
      assert.equal(past.status, 422);
    });

    await ctx.step("a sweep started now raises the alerts", async () => {
      const r = await call(t, "POST", "/fraud/sweeps", authHeaders(analyst));
      assert.equal(r.status, 200);
      assert.equal(r.body.status, "finished");
      assert.ok(r.body.alerts_raised >= 5);
      // started when it was asked for; it covers changes up to a few seconds before
      assert.equal(r.body.started_at, new Date(t.clock.now()).toISOString());
      assert.equal(r.body.changes_until, new Date(t.clock.now() - 5_000).toISOString());
      const runs = await call(t, "GET", "/fraud/sweeps", authHeaders(analyst));
      assert.equal(runs.body.data[0].id, r.body.id);
      assert.equal(runs.body.data[0].changes_until, r.body.changes_until);
      const churn = await call(
        t,
        "GET",
        `/fraud/alerts?rule=payment_method_churn`,
        authHeaders(analyst),
      );
      assert.equal(churn.body.data.length, 0, "snoozed");
    });

    let alert: FraudAlert;
    await ctx.step("alerts show on the customer and on their transactions", async () => {
      alert = await alertOf(t, analyst, `customer=${s.injected.velocity}&rule=velocity`);
      assert.equal(alert.status, "open");
      const cus = await call(t, "GET", `/customers/${s.injected.velocity}`, authHeaders(viewer));
      assert.ok(cus.body.open_alerts.some((a: FraudAlert) => a.id === alert.id));
      const txn = await call(
        t,
        "GET",
        `/transactions/${alert.transactions[0]}`,
        authHeaders(viewer),
      );
      // the burst is also a hit of the customer's score alert (velocity watches add up)
      const shown = txn.body.fraud_alerts.map((a: { rule: string }) => a.rule).sort();
      assert.deepEqual(shown, ["score", "velocity"]);
    });

    await ctx.step(
      "transitions: open -> investigating -> resolved, with their refusals",
      async () => {
        const path = `/fraud/alerts/${alert.id}`;
        const skip = await call(t, "PATCH", path, authHeaders(analyst), {
          status: "resolved_fraud",
          note: "x",
        });
        assert.equal(skip.status, 409);
        assert.match(skip.body.detail, /can move to investigating/);
        const inv = await call(t, "PATCH", path, authHeaders(analyst), {
          status: "investigating",
          assignee: analyst.id,
        });
        assert.equal(inv.status, 200);
        assert.deepEqual([inv.body.status, inv.body.assignee], ["investigating", analyst.id]);
        // the second click (the same move by the same analyst): its answer, nothing written
        const again = await call(t, "PATCH", path, authHeaders(analyst), {
          status: "investigating",
        });
        assert.equal(again.status, 200, "the second click");
        assert.deepEqual(again.body, inv.body);
        // the same status asked by someone else is no second click: 409
        const byOther = await call(t, "PATCH", path, authHeaders(admin), {
          status: "investigating",
        });
        assert.equal(byOther.status, 409);
        const esc = await call(t, "PATCH", path, authHeaders(analyst), { status: "escalated" });
        assert.equal(esc.status, 200);
        assert.equal(
          (await call(t, "PATCH", path, authHeaders(analyst), { status: "investigating" })).status,
          200,
        );
        const noNote = await call(t, "PATCH", path, authHeaders(analyst), {
          status: "resolved_legitimate",
        });
        assert.equal(noNote.status, 422);
        assert.equal(noNote.body.errors[0].path, "body.note");
        const done = await call(t, "PATCH", path, authHeaders(analyst), {
          status: "resolved_legitimate",
          note: "customer confirmed the orders",
        });
        assert.equal(done.status, 200);
        assert.equal(done.body.resolution_note, "customer confirmed the orders");
        assert.equal(done.body.history.length, 4);
        const reopen = await call(t, "PATCH", path, authHeaders(analyst), {
          status: "investigating",
        });
        assert.equal(reopen.status, 409, "a resolved alert stays resolved");
        const cus = await call(t, "GET", `/customers/${s.injected.velocity}`, authHeaders(viewer));
        assert.ok(!cus.body.open_alerts.some((a: FraudAlert) => a.id === alert.id));
        const actions = [];
        for await (
          const e of t.kv.list<
            { action: string; result: string; target: { id: string } | null }
          >({ prefix: ["audit"] })
        ) {
          if (e.value.target?.id === alert.id) actions.push(`${e.value.action}:${e.value.result}`);
        }
        assert.equal(actions.filter((a) => a === "fraud_alert.update:ok").length, 4);
        // the three 409s: denied entries (the 422 for a missing note is a malformed request)
        assert.equal(actions.filter((a) => a === "fraud_alert.update:denied").length, 3);
      },
    );

    await ctx.step("rule changes are versioned and audited; admin with 2FA only", async () => {
      const noOtp = await call(t, "PUT", "/fraud/rules/velocity", authHeaders(admin), {
        alert_at: 12,
      });
      assert.equal(noOtp.status, 401);
      // a stricter threshold applies at once (a looser one waits: fraud_rule_loosen_test.ts)
      const r = await call(t, "PUT", "/fraud/rules/velocity", otpHeaders(t, admin), {
        alert_at: 9,
      });
      assert.equal(r.status, 200);
      assert.deepEqual([r.body.version, r.body.alert_at, r.body.updated_by], [2, 9, admin.id]);
      const bad = await call(t, "PUT", "/fraud/rules/velocity", otpHeaders(t, admin), {
        alert_at: -1,
      });
      assert.equal(bad.status, 422);
      const rules = await call(t, "GET", "/fraud/rules", authHeaders(analyst));
      const hv = rules.body.data.find((x: { rule: string }) => x.rule === "high_value_burst");
      assert.deepEqual(hv.currencies.configured, ["aud", "cad", "eur", "gbp", "jpy", "usd"]);
    });

    await ctx.step("shadow mode needs a second person, then raises nothing", async () => {
      const r = await call(t, "PUT", "/fraud/rules/failed_attempts", otpHeaders(t, admin), {
        shadow: true,
      });
      assert.equal(r.status, 202);
      const id = r.body.approval.id;
      const self = await t.app.request(
        `/api/admin/approvals/${id}/approve`,
        jsonRequest("POST", otpHeaders(t, admin), {}),
      );
      assert.equal(self.status, 403, "not the requester");
      const ok = await t.app.request(
        `/api/admin/approvals/${id}/approve`,
        jsonRequest("POST", otpHeaders(t, admin2), {}),
      );
      assert.equal(ok.status, 200, await ok.text());
      const rules = await call(t, "GET", "/fraud/rules", authHeaders(analyst));
      const fa = rules.body.data.find((x: { rule: string }) => x.rule === "failed_attempts");
      assert.deepEqual([fa.shadow, fa.version, fa.shadow_hits], [true, 2, 0]);
      // a fresh card-testing burst: evaluated and recorded, no alert
      const before =
        (await call(t, "GET", "/fraud/alerts?rule=failed_attempts&limit=100", authHeaders(analyst)))
          .body.data;
      const fresh = generateStream(T0 + 86_400, 11, 0);
      for (const e of fresh.events) {
        if (JSON.stringify(e).includes("cus_injCardtest")) {
          const o = e.data.object as unknown as Record<string, unknown>;
          if (o.object === "charge") o.customer = "cus_shadowed";
          await t.services.stripeEvents.apply(e);
        }
      }
      t.clock.advance(WALK_LAG_MS);
      await t.services.fraud.sweep({ trigger: "test" });
      const after =
        (await call(t, "GET", "/fraud/alerts?rule=failed_attempts&limit=100", authHeaders(analyst)))
          .body.data;
      assert.equal(after.length, before.length);
      let shadowHits = 0;
      for await (
        const _ of t.kv.list({ prefix: ["fraud_shadow_hits", "failed_attempts", "cus_shadowed"] })
      ) shadowHits++;
      assert.ok(shadowHits >= 1, "recorded in shadow");
      // the rule shows every would-be alert recorded: this burst's, and history's (the sweep
      // after the velocity change above walked all history, failed_attempts in shadow mode)
      let allHits = 0;
      for await (const _ of t.kv.list({ prefix: ["fraud_shadow_hits", "failed_attempts"] })) {
        allHits++;
      }
      const shown = (await call(t, "GET", "/fraud/rules", authHeaders(analyst))).body.data
        .find((x: { rule: string }) => x.rule === "failed_attempts");
      assert.equal(shown.shadow_hits, allHits);
    });
  } finally {
    await t.close();
  }
});
