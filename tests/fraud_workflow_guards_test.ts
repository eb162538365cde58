/**
 * The analysts' workflow refuses what makes no sense (README "Fraud
 * detection": workflow): refunding as `fraudulent` the payments of an alert
 * resolved legitimate (409), assigning an alert to someone who is not an
 * admin (422), snoozing a rule for more than a year (422).
 */
import { knownCustomers } from "./helpers/fraud.ts";
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders, sendJson } from "./helpers/identity.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { systemContext } from "../domain/actor.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";

const BASE = "/api/admin/payments/fraud";

function call(
  t: TestApp,
  method: string,
  path: string,
  h: Record<string, string>,
  b?: unknown,
) {
  return sendJson(t, method, `${BASE}${path}`, h, b);
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

Deno.test("fraud workflow: a note alone is 422 saying it goes with a status or an assignee", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_note_only");
    const r = await call(t, "PATCH", `/alerts/${id}`, authHeaders(analyst), { note: "looked" });
    assert.equal(r.status, 422);
    assert.equal(r.body.errors[0].path, "body.status");
    assert.match(r.body.errors[0].message, /a note goes with a status or an assignee/);
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
    await knownCustomers(t.kv, "cus_snooze");
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

Deno.test("one admin has at most 20 snoozes in force: snoozing every customer is no way around a rule change", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const other = await createAdmin(t, "analyst");
    await knownCustomers(t.kv, ...Array.from({ length: 103 }, (_, n) => `cus_Snoozed${n}`));
    const snooze = (as: typeof analyst, n: number) =>
      call(t, "POST", "/snoozes", authHeaders(as), {
        customer: `cus_Snoozed${n}`,
        rule: "velocity",
        until: new Date(t.clock.now() + 7 * 24 * 3600_000).toISOString(),
        note: "known reseller",
      });
    // a burst: exactly 20 land
    const burst = await Promise.all(Array.from({ length: 30 }, (_, n) => snooze(analyst, n)));
    const statuses = burst.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 20, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 409).length, 10);
    assert.match(
      burst.find((r) => r.status === 409)!.body.detail,
      /PUT \/api\/admin\/payments\/fraud\/rules\/velocity/,
    );
    assert.equal((await snooze(other, 99)).status, 201, "another admin has their own count");
    // deleting one makes room; so does one running out
    const first = burst.find((r) => r.status === 201)!.body.id;
    assert.equal((await call(t, "DELETE", `/snoozes/${first}`, authHeaders(analyst))).status, 200);
    assert.equal((await snooze(analyst, 100)).status, 201);
    assert.equal((await snooze(analyst, 101)).status, 409);
    t.clock.advance(8 * 24 * 3600_000);
    assert.equal((await snooze(analyst, 102)).status, 201);
  });
});

Deno.test("a rule is snoozed for at most 50 customers at once, whoever made the snoozes", async () => {
  await withTestApp(async (t) => {
    const analysts = [
      await createAdmin(t, "analyst"),
      await createAdmin(t, "analyst"),
      await createAdmin(t, "analyst"),
    ];
    await knownCustomers(t.kv, ...Array.from({ length: 101 }, (_, n) => `cus_Rule${n}`));
    const snooze = (as: (typeof analysts)[number], n: number, rule = "velocity") =>
      call(t, "POST", "/snoozes", authHeaders(as), {
        customer: `cus_Rule${n}`,
        rule,
        until: new Date(t.clock.now() + 7 * 24 * 3600_000).toISOString(),
        note: "known reseller",
      });
    const statuses: number[] = [];
    for (let n = 0; n < 60; n++) statuses.push((await snooze(analysts[n % 3], n)).status);
    assert.equal(statuses.filter((s) => s === 201).length, 50);
    const refused = await snooze(analysts[0], 99);
    assert.equal(refused.status, 409);
    assert.match(refused.body.detail, /rule velocity is snoozed for 50 customers/);
    assert.equal((await snooze(analysts[0], 100, "amount_anomaly")).status, 201, "another rule");
  });
});
