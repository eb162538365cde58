/**
 * GET /fraud/alerts pages: following `next_cursor` at any limit, with or
 * without filters, returns every alert once, newest first, the same as one
 * large page (README "Fraud detection": workflow).
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, type TestAdmin } from "./helpers/identity.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import type { TestApp } from "./helpers/app.ts";
import { systemContext } from "../domain/actor.ts";
import type { FraudAlert, RuleName, Severity } from "../domain/fraud.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";

const BASE = "/api/admin/payments/fraud/alerts";
const RULES: RuleName[] = ["velocity", "payment_method_churn", "failed_attempts"];
const SEVERITIES: Severity[] = ["high", "medium", "low"];

/**
 * `n` hits: customers cus_p0.. (every 4th is cus_shared), rules and
 * severities in turn; returns how many alerts they opened (one open alert per
 * customer and rule collects the hits).
 */
async function raiseMany(t: TestApp, n: number): Promise<number> {
  let raised = 0;
  for (let i = 0; i < n; i++) {
    const customer = i % 4 === 0 ? "cus_shared" : `cus_p${i}`;
    const hit = {
      ...velocityHit(`txn_p${i}`, new Date(t.clock.now()).toISOString()),
      rule: RULES[i % 3],
      severity: SEVERITIES[i % 3],
    };
    const r = await raiseAlerts(
      raiseDeps(t),
      systemContext("test"),
      customerTarget(customer),
      [hit],
      () => ({}),
    );
    assert.equal(r.hits, 1);
    raised += r.raised;
    t.clock.advance(1_000);
  }
  return raised;
}

async function page(t: TestApp, a: TestAdmin, query: string) {
  const res = await t.app.request(`${BASE}?${query}`, { headers: authHeaders(a) });
  assert.equal(res.status, 200, query);
  return await res.json() as { data: FraudAlert[]; next_cursor: string | null };
}

/** Every id by following `next_cursor` at `limit`. */
async function walk(t: TestApp, a: TestAdmin, filter: string, limit: number) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 500; pages++) {
    const q: string = `${filter}&limit=${limit}` +
      (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const p = await page(t, a, q);
    assert.ok(p.data.length <= limit);
    ids.push(...p.data.map((x) => x.id));
    cursor = p.next_cursor;
    if (!cursor) return ids;
  }
  throw new Error("paging did not end");
}

Deno.test("GET /fraud/alerts: paging at small limits reaches every alert, with and without filters", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const raised = await raiseMany(t, 75);
    const all = (await page(t, analyst, "limit=100")).data;
    assert.ok(raised > 50, "more than one batch of the listing");
    assert.equal(all.length, raised);
    const ids = all.map((a) => a.id);
    assert.deepEqual(ids, [...ids].sort().reverse(), "newest first");
    const filters: [string, (a: FraudAlert) => boolean][] = [
      ["", () => true],
      ["rule=velocity", (a) => a.rule === "velocity"],
      ["severity=medium", (a) => a.severity === "medium"],
      ["customer=cus_shared", (a) => a.customer === "cus_shared"],
      ["status=open&rule=failed_attempts", (a) => a.rule === "failed_attempts"],
    ];
    for (const [filter, keep] of filters) {
      const expected = all.filter(keep).map((a) => a.id);
      assert.ok(expected.length > 0, filter);
      for (const limit of [1, 2, 3, 7, 50]) {
        assert.deepEqual(await walk(t, analyst, filter, limit), expected, `${filter} @${limit}`);
      }
    }
    // the reported case: 20 alerts at limit 2 is 10 pages
    const first = await page(t, analyst, "limit=2");
    assert.equal(first.data.length, 2);
    assert.ok(first.next_cursor, "more alerts follow");
  }, { env: { API_RATE_LIMIT_PER_MIN: "100000" } });
});
