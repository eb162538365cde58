/**
 * GET /fraud/snoozes pages like every list (README "API": `limit` and an
 * opaque `cursor`; "Fraud detection": workflow): following `next_cursor`
 * reaches every snooze in force once, newest first; filters by customer and
 * rule; expired snoozes are not listed.
 */
import { knownCustomers } from "./helpers/fraud.ts";
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson, type TestAdmin } from "./helpers/identity.ts";
import type { Snooze } from "../domain/fraud.ts";

const BASE = "/api/admin/payments/fraud/snoozes";
const DAY = 24 * 3600_000;

async function snooze(t: TestApp, a: TestAdmin, customer: string, rule: string, days: number) {
  await knownCustomers(t.kv, customer);
  const r = await sendJson(t, "POST", BASE, authHeaders(a), {
    customer,
    rule,
    until: new Date(t.clock.now() + days * DAY).toISOString(),
    note: "known reseller",
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  t.clock.advance(1_000);
  return r.body as Snooze;
}

async function walk(t: TestApp, a: TestAdmin, filter: string, limit: number) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const q: string = `${filter}&limit=${limit}` +
      (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const p = await sendJson(t, "GET", `${BASE}?${q}`, authHeaders(a));
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.ok(p.body.data.length <= limit);
    ids.push(...(p.body.data as Snooze[]).map((s) => s.id));
    cursor = p.body.next_cursor;
    if (!cursor) return ids;
  }
  throw new Error("paging did not end");
}

Deno.test("GET /fraud/snoozes: pages reach every snooze in force, filtered by customer and rule, never an expired one", async () => {
  await withTestApp(async (t) => {
    const analysts = [await createAdmin(t, "analyst"), await createAdmin(t, "analyst")];
    const made: Snooze[] = [];
    // a short one first: it runs out before the listing is read
    const short = await snooze(t, analysts[0], "cus_short", "velocity", 1);
    // one snooze in force per customer and rule: twelve customers, three rules
    for (let i = 0; i < 36; i++) {
      const rule = ["velocity", "amount_anomaly", "score"][Math.floor(i / 12)];
      made.push(await snooze(t, analysts[i % 2], `cus_s${i % 12}`, rule, 30));
    }
    t.clock.advance(2 * DAY);
    const newestFirst = made.map((s) => s.id).reverse();
    for (const limit of [1, 7, 100]) {
      assert.deepEqual(await walk(t, analysts[0], "", limit), newestFirst, `limit ${limit}`);
    }
    assert.ok(!newestFirst.includes(short.id), "expired: not listed");
    const ofCustomer = made.filter((s) => s.customer === "cus_s3").map((s) => s.id).reverse();
    assert.deepEqual(await walk(t, analysts[1], "customer=cus_s3", 2), ofCustomer);
    const ofRule = made.filter((s) => s.rule === "amount_anomaly").map((s) => s.id).reverse();
    assert.deepEqual(await walk(t, analysts[1], "rule=amount_anomaly", 5), ofRule);

    const bad = await sendJson(t, "GET", `${BASE}?cursor=abc`, authHeaders(analysts[0]));
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].path, "query.cursor");
    const badRule = await sendJson(t, "GET", `${BASE}?rule=nope`, authHeaders(analysts[0]));
    assert.equal(badRule.status, 422);
    assert.equal(badRule.body.errors[0].path, "query.rule");
  });
});

Deno.test("a snooze for a customer this service has never seen is 404 naming body.customer (a typo would quiet nothing), whatever its until", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "analyst");
    const r = await sendJson(t, "POST", BASE, authHeaders(a), {
      customer: "cus_typo",
      rule: "velocity",
      until: new Date(t.clock.now() + DAY).toISOString(),
      note: "known reseller",
    });
    assert.equal(r.status, 404);
    assert.equal(r.body.code, "not_found");
    assert.equal(r.body.errors[0].path, "body.customer");
    assert.match(r.body.errors[0].message, /no customer cus_typo is known here/);
    // the customer is asked first: a stale until does not hide that the id is unknown
    const stale = await sendJson(t, "POST", BASE, authHeaders(a), {
      customer: "cus_typo",
      rule: "velocity",
      until: "2020-01-01T00:00:00Z",
      note: "known reseller",
    });
    assert.equal(stale.status, 404);
    assert.deepEqual((await t.services.fraud.listSnoozes({ limit: 10 })).data, [], "none made");
  });
});
