/**
 * GET /fraud/sweeps pages like every list (README "API": `limit` and an
 * opaque `cursor`, `{ data, next_cursor }`): following `next_cursor` reaches
 * every run once, newest first; a cursor the service did not seal for this
 * listing is 422 naming `query.cursor`.
 */
import assert from "node:assert/strict";
import { TEST_SIGNING_KEY, withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson, type TestAdmin } from "./helpers/identity.ts";
import { CursorSealer } from "../kv/pagination.ts";
import { fromB64url } from "../core/encoding.ts";
import type { SweepRun } from "../domain/fraud.ts";

const BASE = "/api/admin/payments/fraud/sweeps";

async function walk(t: TestApp, a: TestAdmin, limit: number) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const q: string = `limit=${limit}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const p = await sendJson(t, "GET", `${BASE}?${q}`, authHeaders(a));
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.ok(p.body.data.length <= limit);
    ids.push(...(p.body.data as SweepRun[]).map((s) => s.id));
    cursor = p.body.next_cursor;
    if (!cursor) return { ids, pages: pages + 1 };
  }
  throw new Error("paging did not end");
}

Deno.test("GET /fraud/sweeps: pages reach every run once, newest first, the last page says next_cursor null", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const runs: string[] = [];
    for (let i = 0; i < 7; i++) {
      runs.push((await t.services.fraud.sweep({ trigger: "test" })).id);
      t.clock.advance(1_000);
    }
    const newestFirst = runs.toReversed();
    assert.deepEqual(await walk(t, analyst, 3), { ids: newestFirst, pages: 3 });
    assert.deepEqual(await walk(t, analyst, 7), { ids: newestFirst, pages: 1 });
    assert.deepEqual(await walk(t, analyst, 100), { ids: newestFirst, pages: 1 });
  });
});

Deno.test("GET /fraud/sweeps: a forged cursor, or another listing's, is 422 naming query.cursor", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    for (let i = 0; i < 2; i++) {
      await t.services.fraud.sweep({ trigger: "test" });
      t.clock.advance(1_000);
    }
    const first = await sendJson(t, "GET", `${BASE}?limit=1`, authHeaders(analyst));
    const sealed: string = first.body.next_cursor;
    assert.ok(sealed, "a second page exists");
    const [body, mac] = sealed.split(".");
    const forged = `${body}.${mac.slice(0, -2)}${mac.endsWith("AA") ? "BB" : "AA"}`;
    // sealed with the service's own key, but for another listing (the snoozes')
    const foreign = await new CursorSealer(TEST_SIGNING_KEY).seal(
      "fraud_snoozes",
      JSON.parse(new TextDecoder().decode(fromB64url(body))).c,
    );
    for (const cursor of ["abc", forged, foreign]) {
      const res = await t.app.request(`${BASE}?cursor=${encodeURIComponent(cursor)}`, {
        headers: authHeaders(analyst),
      });
      assert.equal(res.status, 422, cursor);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const problem = await res.json();
      assert.equal(problem.code, "validation_failed");
      assert.equal(problem.errors[0].path, "query.cursor");
      assert.match(problem.errors[0].message, /omit it/);
    }
  });
});
