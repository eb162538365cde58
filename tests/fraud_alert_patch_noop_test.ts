/**
 * A PATCH of an alert that changes nothing writes nothing (README "Fraud
 * detection", Workflow): the same assignment sent again (a second click of
 * "assign to me", by whoever) answers the alert as it is, no history entry,
 * no `fraud_alert.update` audited; a real change still writes both.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { oneAlert } from "./helpers/fraud.ts";
import { auditEntries, authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import type { TestAdmin } from "./helpers/identity.ts";

const API = "/api/admin/payments/fraud/alerts";

function patch(t: TestApp, a: TestAdmin, id: string, body: Record<string, unknown>) {
  return sendJson(t, "PATCH", `${API}/${id}`, authHeaders(a), body);
}

async function updates(t: TestApp, id: string) {
  return (await auditEntries(t.kv)).filter((e) =>
    e.action === "fraud_alert.update" && e.target?.id === id
  );
}

Deno.test("an assign-only PATCH that changes nothing answers the alert and writes nothing", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const other = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_noop");

    // open: assigned to me, then the same again (a second click)
    const mine = await patch(t, analyst, id, { assignee: "me" });
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    assert.equal(mine.body.history.length, 1);
    const again = await patch(t, analyst, id, { assignee: "me" });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body, { ...mine.body, voided_refunds: [] });
    assert.equal((await updates(t, id)).length, 1, "one entry: the assignment");

    // investigating (the case reported): the same assignee sent again, by its own id, or by
    // another analyst, with a note too (a note alone changes nothing)
    const inv = await patch(t, analyst, id, { status: "investigating" });
    assert.equal(inv.status, 200, JSON.stringify(inv.body));
    for (
      const [who, body] of [
        [analyst, { assignee: "me" }],
        [analyst, { assignee: analyst.id }],
        [other, { assignee: analyst.id, note: "still theirs" }],
      ] as const
    ) {
      const r = await patch(t, who, id, body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, inv.body, JSON.stringify(body));
    }
    const stored = await t.services.fraud.getAlert(id);
    assert.deepEqual(
      stored.history.map((h) => `${h.from}->${h.to}:${h.assignee}`),
      [`open->open:${analyst.id}`, `open->investigating:${analyst.id}`],
    );
    assert.equal(stored.updated_at, inv.body.updated_at);
    const entries = await updates(t, id);
    assert.equal(entries.length, 2, JSON.stringify(entries));
    assert.ok(entries.every((e) => e.result === "ok"));

    // unassigning one nobody holds changes nothing either; a real change still writes
    const off = await patch(t, analyst, id, { assignee: null });
    assert.equal(off.status, 200);
    assert.equal(off.body.history.length, 3);
    const offAgain = await patch(t, other, id, { assignee: null });
    assert.equal(offAgain.status, 200);
    assert.deepEqual(offAgain.body, off.body);
    assert.equal((await updates(t, id)).length, 3);

    // resolved: the assignee it has is no change (answered), another is the 409 it was
    const done = await patch(t, analyst, id, { status: "resolved_fraud", note: "confirmed" });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const same = await patch(t, other, id, { assignee: null });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.deepEqual(same.body, done.body);
    const moved = await patch(t, other, id, { assignee: "me" });
    assert.equal(moved.status, 409);
    const all = await updates(t, id);
    assert.deepEqual(all.map((e) => e.result), ["ok", "ok", "ok", "ok", "denied"]);
  });
});
