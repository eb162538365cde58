/**
 * GET /fraud/rules is a list like every other (README "API": `limit` 1–100,
 * default 25, an opaque `cursor`, `{ data, next_cursor }`): the rule set is
 * small and fixed, so one page usually holds it all (`next_cursor` null), and
 * a smaller `limit` pages through it in the rules' fixed order. A cursor the
 * service did not seal for this listing is 422 naming `query.cursor`.
 */
import assert from "node:assert/strict";
import { TEST_SIGNING_KEY, withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { CursorSealer } from "../kv/pagination.ts";
import { RULE_NAMES } from "../domain/fraud.ts";

const BASE = "/api/admin/payments/fraud/rules";

Deno.test("GET /fraud/rules: one page holds every rule by default, next_cursor null", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const res = await sendJson(t, "GET", BASE, authHeaders(analyst));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.data.map((r: { rule: string }) => r.rule), [...RULE_NAMES]);
    assert.equal(res.body.next_cursor, null);
  });
});

Deno.test("GET /fraud/rules?limit=…: pages reach every rule once, in order, the last says null", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    for (const limit of [1, 3, RULE_NAMES.length, 100]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = `limit=${limit}` +
          (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
        const p = await sendJson(t, "GET", `${BASE}?${q}`, authHeaders(analyst));
        assert.equal(p.status, 200, JSON.stringify(p.body));
        assert.ok(p.body.data.length <= limit);
        seen.push(...p.body.data.map((r: { rule: string }) => r.rule));
        cursor = p.body.next_cursor;
        assert.ok(++pages <= RULE_NAMES.length, "paging ends");
      } while (cursor);
      assert.deepEqual(seen, [...RULE_NAMES], `limit=${limit}`);
      assert.equal(pages, Math.ceil(RULE_NAMES.length / limit), `limit=${limit}`);
    }
  });
});

Deno.test("GET /fraud/rules: a bad limit, or a forged or foreign cursor, is 422 naming the parameter", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    for (const [q, path] of [["limit=0", "query.limit"], ["limit=101", "query.limit"]]) {
      const res = await sendJson(t, "GET", `${BASE}?${q}`, authHeaders(analyst));
      assert.equal(res.status, 422, q);
      assert.equal(res.body.errors[0].path, path, q);
    }
    const first = await sendJson(t, "GET", `${BASE}?limit=1`, authHeaders(analyst));
    const sealed: string = first.body.next_cursor;
    assert.ok(sealed, "a second page exists");
    const [body, mac] = sealed.split(".");
    const forged = `${body}.${mac.slice(0, -2)}${mac.endsWith("AA") ? "BB" : "AA"}`;
    // sealed with the service's own key, but for another listing (the sweeps')
    const foreign = await new CursorSealer(TEST_SIGNING_KEY).seal("fraud_sweeps", "velocity");
    for (const cursor of ["abc", forged, foreign]) {
      const res = await sendJson(
        t,
        "GET",
        `${BASE}?limit=1&cursor=${encodeURIComponent(cursor)}`,
        authHeaders(analyst),
      );
      assert.equal(res.status, 422, cursor);
      assert.equal(res.body.code, "validation_failed");
      assert.equal(res.body.errors[0].path, "query.cursor");
    }
  });
});
