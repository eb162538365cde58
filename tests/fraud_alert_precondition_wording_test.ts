/**
 * A stale `If-Match` on `PATCH /fraud/alerts/{id}` is `412` naming the alert's
 * last change as it was made (README "Inputs and headers"): an assignment, a
 * move from one status to another, or both, with who and when; never an
 * assignment called a move.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, jsonRequest, type TestAdmin } from "./helpers/identity.ts";
import { oneAlert } from "./helpers/fraud.ts";

const ALERTS = "/api/admin/payments/fraud/alerts";

async function patch(t: TestApp, as: TestAdmin, id: string, body: unknown, ifMatch: string) {
  const res = await t.app.request(
    `${ALERTS}/${id}`,
    jsonRequest("PATCH", { ...authHeaders(as), "if-match": ifMatch }, body),
  );
  return { status: res.status, body: await res.json(), etag: res.headers.get("etag") };
}

async function etagOf(t: TestApp, as: TestAdmin, id: string): Promise<string> {
  const res = await t.app.request(`${ALERTS}/${id}`, { headers: authHeaders(as) });
  await res.body?.cancel();
  return res.headers.get("etag")!;
}

Deno.test("PATCH /fraud/alerts/{id}: a 412 after an assignment says assigned, not moved", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "analyst");
    const b = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_assigned");
    const read = await etagOf(t, a, id);
    assert.equal((await patch(t, b, id, { assignee: "me" }, read)).status, 200);

    const late = await patch(t, a, id, { status: "investigating" }, read);
    assert.equal(late.status, 412);
    const detail = String(late.body.detail);
    assert.doesNotMatch(detail, /moved to open/);
    assert.match(detail, new RegExp(`last change: assigned to ${b.id} by ${b.id} at `), detail);

    // b unassigns it, with a note: said so, in b's own words from a's view
    const now = await etagOf(t, b, id);
    const un = await patch(t, b, id, { assignee: null, note: "not mine" }, now);
    assert.equal(un.status, 200);
    const again = await patch(t, a, id, { status: "investigating" }, now);
    assert.equal(again.status, 412);
    assert.match(
      String(again.body.detail),
      new RegExp(`last change: unassigned, with a note, by ${b.id} at `),
    );
  });
});

Deno.test("PATCH /fraud/alerts/{id}: a 412 after a move names where from and where to (and an assignment made with it)", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "analyst");
    const b = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_moved");
    const read = await etagOf(t, a, id);
    const moved = await patch(t, b, id, { status: "investigating", assignee: a.id }, read);
    assert.equal(moved.status, 200);
    const late = await patch(t, a, id, { assignee: null }, read);
    assert.equal(late.status, 412);
    assert.match(
      String(late.body.detail),
      new RegExp(
        `last change: moved from open to investigating and assigned to you \\(${a.id}\\) ` +
          `by ${b.id} at `,
      ),
    );

    const now = moved.etag!;
    assert.equal((await patch(t, a, id, { status: "escalated" }, now)).status, 200);
    const stale = await patch(t, b, id, { status: "resolved_fraud", note: "x" }, now);
    assert.equal(stale.status, 412);
    assert.match(
      String(stale.body.detail),
      new RegExp(`last change: moved from investigating to escalated by ${a.id} at `),
    );
  });
});
