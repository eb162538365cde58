/**
 * One snooze in force per customer and rule (README "Fraud detection",
 * Workflow): a second click, or a burst of the same request, made another
 * identical snooze each time, so deleting "the" snooze left the rule quiet
 * for that customer, and the duplicates used up the admin's and the rule's
 * caps. Another snooze for the same customer and rule is now 409 naming the
 * one in force, audited `denied`; the same snooze sent again by whoever made
 * it (same customer, rule, until and note: a second click) answers the one in
 * force as the first did (201), with nothing written and nothing denied.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson, type TestAdmin } from "./helpers/identity.ts";
import { knownCustomers } from "./helpers/fraud.ts";

const BASE = "/api/admin/payments/fraud/snoozes";
const DAY = 24 * 3600_000;

function snooze(
  t: TestApp,
  a: TestAdmin,
  customer: string,
  rule: string,
  days = 30,
  note = "known reseller",
) {
  return sendJson(t, "POST", BASE, authHeaders(a), {
    customer,
    rule,
    until: new Date(t.clock.now() + days * DAY).toISOString(),
    note,
  });
}

async function snoozeAudit(t: TestApp) {
  const log = await sendJson(
    t,
    "GET",
    "/api/admin/payments/audit-log?action=fraud_snooze.create&limit=50",
    authHeaders(await createAdmin(t, "admin")),
  );
  return log.body.data as { result: string }[];
}

async function inForce(t: TestApp, a: TestAdmin, customer: string): Promise<string[]> {
  const r = await sendJson(t, "GET", `${BASE}?customer=${customer}`, authHeaders(a));
  assert.equal(r.status, 200);
  return r.body.data.map((s: { id: string }) => s.id);
}

Deno.test("a second snooze of the same customer and rule is 409 naming the one in force", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const other = await createAdmin(t, "analyst");
    await knownCustomers(t.kv, "cus_dup");
    const first = await snooze(t, analyst, "cus_dup", "velocity");
    assert.equal(first.status, 201);

    // the same snooze again by whoever made it (a second click): the one in force, as the first
    const click = await snooze(t, analyst, "cus_dup", "velocity");
    assert.equal(click.status, 201);
    assert.deepEqual(click.body, first.body);
    assert.equal((await snoozeAudit(t)).length, 1, "nothing audited, not denied");

    const again = await snooze(t, analyst, "cus_dup", "velocity", 30, "another note");
    assert.equal(again.status, 409);
    assert.equal(again.body.code, "conflict");
    assert.match(again.body.detail, new RegExp(first.body.id));
    assert.match(again.body.detail, /DELETE \/api\/admin\/payments\/fraud\/snoozes\//);
    // it names who snoozed and when: "you" to whoever did, never as if someone else
    const at = first.body.created_at;
    assert.match(again.body.detail, new RegExp(`by you \\(${analyst.id}\\) at ${at}`));
    const longer = await snooze(t, analyst, "cus_dup", "velocity", 60);
    assert.equal(longer.status, 409, "another until");
    const others = await snooze(t, other, "cus_dup", "velocity");
    assert.equal(others.status, 409, "anyone's, the same request too");
    assert.match(others.body.detail, new RegExp(`by ${analyst.id} at ${at}`));
    assert.deepEqual(await inForce(t, analyst, "cus_dup"), [first.body.id]);

    const denied = (await snoozeAudit(t)).filter((e) => e.result === "denied");
    assert.equal(denied.length, 3);

    assert.equal((await snooze(t, analyst, "cus_dup", "score")).status, 201, "another rule");
    const del = await sendJson(t, "DELETE", `${BASE}/${first.body.id}`, authHeaders(analyst));
    assert.equal(del.status, 200);
    // deleted again (a second click, or someone else after): 404 saying who deleted it and when
    const twice = await sendJson(t, "DELETE", `${BASE}/${first.body.id}`, authHeaders(analyst));
    assert.equal(twice.status, 404);
    assert.match(twice.body.detail, new RegExp(`deleted by you \\(${analyst.id}\\) at `));
    const late = await sendJson(t, "DELETE", `${BASE}/${first.body.id}`, authHeaders(other));
    assert.match(late.body.detail, new RegExp(`deleted by ${analyst.id} at `));
    const never = await sendJson(
      t,
      "DELETE",
      `${BASE}/fsz_01JD3Y8Z6QKQ2X5N7S9V4W1T0R`,
      authHeaders(analyst),
    );
    assert.equal(never.status, 404);
    assert.doesNotMatch(never.body.detail, /deleted/);
    assert.equal((await snooze(t, analyst, "cus_dup", "velocity")).status, 201, "after delete");
  });
});

Deno.test("a burst of the same snooze makes one, and every answer is it; one that ran out blocks nothing", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    await knownCustomers(t.kv, "cus_burst");
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => snooze(t, analyst, "cus_burst", "velocity", 1)),
    );
    assert.deepEqual(burst.map((r) => r.status), Array(10).fill(201));
    assert.equal(new Set(burst.map((r) => r.body.id)).size, 1);
    assert.equal((await inForce(t, analyst, "cus_burst")).length, 1);
    assert.deepEqual((await snoozeAudit(t)).map((e) => e.result), ["ok"]);

    t.clock.advance(2 * DAY);
    assert.equal((await snooze(t, analyst, "cus_burst", "velocity")).status, 201);
  });
});
