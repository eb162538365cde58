/**
 * The analysts' workflow refuses what makes no sense (README "Fraud
 * detection": workflow): refunding as `fraudulent` the payments of an alert
 * resolved legitimate (409), assigning an alert to someone who is not an
 * admin (422), snoozing a rule for more than a year (422).
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { systemContext } from "../domain/actor.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";

const BASE = "/api/admin/payments/fraud";

async function call(
  t: TestApp,
  method: string,
  path: string,
  h: Record<string, string>,
  b?: unknown,
) {
  const res = await t.app.request(`${BASE}${path}`, jsonRequest(method, h, b));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function oneAlert(t: TestApp, customer: string): Promise<string> {
  const at = new Date(t.clock.now()).toISOString();
  const r = await raiseAlerts(
    raiseDeps(t),
    systemContext("test"),
    customerTarget(customer),
    [velocityHit(`txn_${customer}`, at)],
    () => ({}),
  );
  return r.alerts[0];
}

Deno.test("fraud workflow: refunds of an alert resolved legitimate are 409", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const operator = await createAdmin(t, "operator");
    const id = await oneAlert(t, "cus_legit");
    const h = authHeaders(analyst);
    assert.equal(
      (await call(t, "PATCH", `/alerts/${id}`, h, { status: "investigating" })).status,
      200,
    );
    const done = await call(t, "PATCH", `/alerts/${id}`, h, {
      status: "resolved_legitimate",
      note: "the customer confirmed every order",
    });
    assert.equal(done.status, 200);
    const r = await call(t, "POST", `/alerts/${id}/refunds`, otpHeaders(t, operator), {
      note: "refund anyway",
    });
    assert.equal(r.status, 409);
    assert.match(r.body.detail, /resolved_legitimate/);
    const alert = await call(t, "GET", `/alerts/${id}`, h);
    assert.deepEqual(alert.body.refunds, []);
  });
});

Deno.test("fraud workflow: an alert is assigned only to an existing admin", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_assign");
    const h = authHeaders(analyst);
    const bad = await call(t, "PATCH", `/alerts/${id}`, h, { assignee: "adm_nobody" });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].path, "body.assignee");
    assert.equal((await call(t, "GET", `/alerts/${id}`, h)).body.assignee, null);
    const ok = await call(t, "PATCH", `/alerts/${id}`, h, { assignee: analyst.id });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.assignee, analyst.id);
    const unassign = await call(t, "PATCH", `/alerts/${id}`, h, { assignee: null });
    assert.equal(unassign.status, 200);
    assert.equal(unassign.body.assignee, null);
  });
});

Deno.test("fraud workflow: a snooze lasts at most a year", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const day = 24 * 3600_000;
    const snooze = (ms: number) =>
      call(t, "POST", "/snoozes", authHeaders(analyst), {
        customer: "cus_snooze",
        rule: "velocity",
        until: new Date(t.clock.now() + ms).toISOString(),
        note: "known buyer",
      });
    const far = await snooze(366 * day);
    assert.equal(far.status, 422);
    assert.equal(far.body.errors[0].path, "body.until");
    assert.equal((await snooze(365 * day)).status, 201);
  });
});
