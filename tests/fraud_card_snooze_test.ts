/**
 * A card alert's subject (`card:<fingerprint>`) can be snoozed like a
 * customer (README "Fraud detection", Workflow): a card the service has seen
 * (a payment without a customer, a decline, an open alert) is accepted, the
 * rule then raises nothing for that card until `until`, and every other
 * snooze rule holds (one in force per subject and rule, a second click
 * answers the one in force). A card never seen is 404 naming `body.customer`.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson, type TestAdmin } from "./helpers/identity.ts";
import { cardTarget, knownCards, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { systemContext } from "../domain/actor.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import type { Signal } from "../domain/fraud.ts";

const BASE = "/api/admin/payments/fraud";
const DAY = 24 * 3600_000;

function snooze(t: TestApp, a: TestAdmin, customer: string, rule: string, note = "test card") {
  return sendJson(t, "POST", `${BASE}/snoozes`, authHeaders(a), {
    customer,
    rule,
    until: new Date(t.clock.now() + 30 * DAY).toISOString(),
    note,
  });
}

function raise(t: TestApp, fp: string, signals: Signal[]) {
  return raiseAlerts(
    raiseDeps(t),
    systemContext("test"),
    cardTarget(fp, ["cus_a"]),
    signals,
    () => ({}),
  );
}

const failedHit = (x: string, at: string): Signal => ({
  ...velocityHit(x, at),
  rule: "failed_attempts",
  severity: "medium",
  points: 30,
});

Deno.test("a card subject the service has seen can be snoozed; the rule raises nothing for it", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const other = await createAdmin(t, "analyst");
    const now = () => new Date(t.clock.now()).toISOString();
    const first = await raise(t, "fpOPEN", [velocityHit("txn_c1", now())]);
    const alertId = first.alerts[0];

    const made = await snooze(t, analyst, "card:fpOPEN", "velocity");
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.customer, "card:fpOPEN");
    const again = await snooze(t, analyst, "card:fpOPEN", "velocity");
    assert.equal(again.status, 201, "a second click answers the one in force");
    assert.equal(again.body.id, made.body.id);
    const theirs = await snooze(t, other, "card:fpOPEN", "velocity", "another note");
    assert.equal(theirs.status, 409);
    assert.match(theirs.body.detail, new RegExp(made.body.id));

    // the snoozed rule adds nothing for that card; another rule still raises
    const quiet = await raise(t, "fpOPEN", [velocityHit("txn_c2", now())]);
    assert.equal(quiet.hits, 0);
    assert.equal((await t.services.fraud.getAlert(alertId)).hit_count, 1);
    const loud = await raise(t, "fpOPEN", [failedHit("txn_c2", now())]);
    assert.equal(loud.raised, 1);

    const listed = await sendJson(
      t,
      "GET",
      `${BASE}/snoozes?customer=card:fpOPEN`,
      authHeaders(analyst),
    );
    assert.deepEqual(listed.body.data.map((s: { id: string }) => s.id), [made.body.id]);

    // a card seen paying without a customer, with no alert yet
    await knownCards(t.kv, "fpPAID");
    assert.equal((await snooze(t, analyst, "card:fpPAID", "velocity")).status, 201);
    const none = await raise(t, "fpPAID", [velocityHit("txn_p1", now())]);
    assert.equal(none.raised, 0, "snoozed before its first alert");

    // once the snooze is deleted, the rule raises for the card again
    const del = await sendJson(
      t,
      "DELETE",
      `${BASE}/snoozes/${made.body.id}`,
      authHeaders(analyst),
    );
    assert.equal(del.status, 200);
    assert.equal((await raise(t, "fpOPEN", [velocityHit("txn_c3", now())])).hits, 1);
  });
});

Deno.test("a card never seen is 404 naming body.customer; a malformed subject is 422", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const unknown = await snooze(t, analyst, "card:fpNEVER", "velocity");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errors[0].path, "body.customer");
    assert.match(unknown.body.errors[0].message, /no card fpNEVER/);
    assert.match(unknown.body.errors[0].message, /GET \/api\/admin\/payments\/fraud\/alerts/);
    const empty = await snooze(t, analyst, "card:", "velocity");
    assert.equal(empty.status, 422);
    assert.equal(empty.body.errors[0].path, "body.customer");
  });
});
