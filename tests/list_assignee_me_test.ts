/**
 * `assignee=me` on the alert and dispute lists is the caller's own admin id
 * (README "Fraud detection" and "Dispute workbench"); any other value that is
 * not an `adm_…` id (an email, a name) is 422 naming `query.assignee`,
 * instead of a filter that quietly matches nothing.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";
import { authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { oneAlert } from "./helpers/fraud.ts";

const FRAUD = "/api/admin/payments/fraud";

Deno.test("GET /fraud/alerts?assignee=me lists the caller's own alerts", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const other = await createAdmin(t, "analyst");
    const mine = await oneAlert(t, "cus_mine");
    await oneAlert(t, "cus_theirs");
    const h = authHeaders(analyst);
    const assigned = await sendJson(t, "PATCH", `${FRAUD}/alerts/${mine}`, h, {
      assignee: analyst.id,
    });
    assert.equal(assigned.status, 200);

    const me = await sendJson(t, "GET", `${FRAUD}/alerts?assignee=me`, h);
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.data.map((a: { id: string }) => a.id), [mine]);
    const byId = await sendJson(t, "GET", `${FRAUD}/alerts?assignee=${analyst.id}`, h);
    assert.deepEqual(byId.body.data, me.body.data);
    const theirs = await sendJson(t, "GET", `${FRAUD}/alerts?assignee=me`, authHeaders(other));
    assert.deepEqual(theirs.body.data, [], "another analyst has none assigned");

    const email = await sendJson(t, "GET", `${FRAUD}/alerts?assignee=${analyst.email}`, h);
    assert.equal(email.status, 422);
    assert.equal(email.body.errors[0].path, "query.assignee");
    assert.match(email.body.errors[0].message, /adm_…/);
    assert.match(email.body.errors[0].message, /me/);
  });
});

Deno.test("GET /disputes?assignee=me lists the caller's own disputes", async () => {
  await withRefundWorld(async (w) => {
    const first = await disputedPayment(w);
    w.clock.advance(2000);
    const second = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const assigned = await call(w, support, "PATCH", `/disputes/${second.dispute.id}`, {
      assignee: support.id,
    });
    assert.equal(assigned.status, 200);

    const me = await call(w, support, "GET", "/disputes?assignee=me");
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.data.map((d: { id: string }) => d.id), [second.dispute.id]);
    const viewer = await createAdmin(w.t, "viewer");
    const none = await call(w, viewer, "GET", "/disputes?assignee=me");
    assert.deepEqual(none.body.data, []);
    assert.ok(first.dispute.id !== second.dispute.id);

    const name = await call(w, support, "GET", "/disputes?assignee=alice");
    assert.equal(name.status, 422);
    assert.equal(name.body.errors[0].path, "query.assignee");
    assert.match(name.body.errors[0].message, /adm_…/);
  });
});
