/**
 * GET /ops-alerts, GET /ops-alerts/{id}, POST /ops-alerts/{id}/close through
 * the app. Alerts are put in KV the way the refund flow raises them
 * (kv/ops_alerts.ts `addOpsAlert`); tests/refund_exactly_once_test.ts shows
 * the flow itself raising one.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { auditEntries, authHeaders, createAdmin, jsonRequest } from "./helpers/identity.ts";
import { addOpsAlert, type OpsAlert } from "../kv/ops_alerts.ts";

const BASE = "/api/admin/payments/ops-alerts";

async function raise(t: TestApp, overrides: Partial<OpsAlert> = {}): Promise<OpsAlert> {
  const alert: OpsAlert = {
    id: t.services.newId("ops"),
    kind: "refund_failed_after_success",
    refund_id: t.services.newId("rfd"),
    transaction_id: t.services.newId("txn"),
    stripe_refund: "re_test_1",
    amount: 2500,
    currency: "usd",
    detail: "Stripe failed refund re_test_1 after reporting it succeeded",
    status: "open",
    created_at: new Date(t.clock.now()).toISOString(),
    ...overrides,
  };
  const op = t.kv.atomic();
  addOpsAlert(op, alert);
  assert.ok((await op.commit()).ok);
  t.clock.advance(1000); // the next alert's ULID sorts after this one
  return alert;
}

Deno.test("GET /ops-alerts lists newest first, filters by status and pages with a cursor", async () => {
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const first = await raise(t);
    const second = await raise(t, { kind: "refund_lost_at_stripe", stripe_refund: null });
    const third = await raise(t, { status: "closed", closed_by: "adm_x", close_note: "done" });

    const all = await t.app.request(BASE, { headers: authHeaders(viewer) });
    assert.equal(all.status, 200);
    const body = await all.json();
    assert.deepEqual(body.data.map((a: OpsAlert) => a.id), [third.id, second.id, first.id]);
    // an alert raised without the close fields shows them as null
    assert.equal(body.data[2].closed_at, null);
    assert.equal(body.data[2].close_note, null);

    const open = await (await t.app.request(`${BASE}?status=open&limit=1`, {
      headers: authHeaders(viewer),
    })).json();
    assert.deepEqual(open.data.map((a: OpsAlert) => a.id), [second.id]);
    assert.ok(open.next_cursor);
    const next = await (await t.app.request(
      `${BASE}?status=open&limit=1&cursor=${encodeURIComponent(open.next_cursor)}`,
      { headers: authHeaders(viewer) },
    )).json();
    assert.deepEqual(next.data.map((a: OpsAlert) => a.id), [first.id]);
    assert.equal(next.next_cursor, null);

    // a cursor from another filter is refused, naming the parameter
    const foreign = await t.app.request(
      `${BASE}?status=closed&cursor=${encodeURIComponent(open.next_cursor)}`,
      { headers: authHeaders(viewer) },
    );
    assert.equal(foreign.status, 422);
    assert.match(JSON.stringify(await foreign.json()), /query\.cursor/);

    const bad = await t.app.request(`${BASE}?status=resolved`, { headers: authHeaders(viewer) });
    assert.equal(bad.status, 422);
    assert.match(JSON.stringify(await bad.json()), /query\.status/);

    // by kind, alone and with status
    const lost = await (await t.app.request(`${BASE}?kind=refund_lost_at_stripe`, {
      headers: authHeaders(viewer),
    })).json();
    assert.deepEqual(lost.data.map((a: OpsAlert) => a.id), [second.id]);
    const failedOpen = await (await t.app.request(
      `${BASE}?kind=refund_failed_after_success&status=open`,
      { headers: authHeaders(viewer) },
    )).json();
    assert.deepEqual(failedOpen.data.map((a: OpsAlert) => a.id), [first.id]);
    const badKind = await t.app.request(`${BASE}?kind=dispute_due`, {
      headers: authHeaders(viewer),
    });
    assert.equal(badKind.status, 422);
    const problem = await badKind.json();
    assert.equal(problem.errors[0].path, "query.kind");
    assert.match(problem.errors[0].message, /dispute_due_soon/);
  });
});

Deno.test("POST /ops-alerts/{id}/close closes once, with the note, audited in the same commit", async () => {
  await withTestApp(async (t) => {
    const operator = await createAdmin(t, "operator");
    const other = await createAdmin(t, "operator");
    const alert = await raise(t);
    const url = `${BASE}/${alert.id}/close`;

    const noNote = await t.app.request(url, jsonRequest("POST", authHeaders(operator), {}));
    assert.equal(noNote.status, 422);
    assert.match(JSON.stringify(await noNote.json()), /body\.note/);
    const blank = await t.app.request(
      url,
      jsonRequest("POST", authHeaders(operator), { note: "   " }),
    );
    assert.equal(blank.status, 422);
    await blank.body?.cancel();

    const note = "refunded again by hand as rfd_… after talking to the customer";
    const res = await t.app.request(url, jsonRequest("POST", authHeaders(operator), { note }));
    assert.equal(res.status, 200);
    const closed = await res.json();
    assert.equal(closed.status, "closed");
    assert.equal(closed.closed_by, operator.id);
    assert.equal(closed.close_note, note);
    assert.equal(closed.closed_at, new Date(t.clock.now()).toISOString());

    // the same close again (a second click, a retry): the closed alert, nothing written
    const click = await t.app.request(url, jsonRequest("POST", authHeaders(operator), { note }));
    assert.equal(click.status, 200);
    assert.deepEqual(await click.json(), closed);
    // the same operator with another note is not the same close
    const otherNote = await t.app.request(
      url,
      jsonRequest("POST", authHeaders(operator), { note: "something else" }),
    );
    assert.equal(otherNote.status, 409);
    assert.match((await otherNote.json()).detail, new RegExp(`by you \\(${operator.id}\\) at `));

    // the second operator learns who closed it instead of closing it again
    const again = await t.app.request(
      url,
      jsonRequest("POST", authHeaders(other), { note: "me too" }),
    );
    assert.equal(again.status, 409);
    const told = (await again.json()).detail;
    assert.match(told, new RegExp(`closed by ${operator.id} at `));
    assert.doesNotMatch(told, /you/);

    const shown = await (await t.app.request(`${BASE}/${alert.id}`, {
      headers: authHeaders(other),
    })).json();
    assert.equal(shown.status, "closed");

    const entries = (await auditEntries(t.kv)).filter((e) => e.action === "ops_alert.close");
    assert.equal(entries.length, 1, "one close, one entry: the refused second close wrote nothing");
    assert.equal(entries[0].actor.id, operator.id);
    assert.equal(entries[0].target?.id, alert.id);
    assert.equal(entries[0].reason, note);
  });
});

Deno.test("ops alerts: viewers read, only operator+ close; unknown and malformed ids are named", async () => {
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const auditor = await createAdmin(t, "auditor");
    const operator = await createAdmin(t, "operator");
    const alert = await raise(t);

    const denied = await t.app.request(
      `${BASE}/${alert.id}/close`,
      jsonRequest("POST", authHeaders(viewer), { note: "looked at it" }),
    );
    assert.equal(denied.status, 403);
    await denied.body?.cancel();
    assert.equal((await t.services.opsAlerts.get(alert.id)).status, "open");

    // the auditor reads the audit log and nothing that moves money
    const auditorList = await t.app.request(BASE, { headers: authHeaders(auditor) });
    assert.equal(auditorList.status, 403);
    await auditorList.body?.cancel();

    const missing = await t.app.request(`${BASE}/ops_01JD3Y8Z6QKQ2X5N7S9V4W1T0R`, {
      headers: authHeaders(operator),
    });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const malformed = await t.app.request(`${BASE}/rfd_123`, { headers: authHeaders(operator) });
    assert.equal(malformed.status, 422);
    const problem = await malformed.json();
    assert.equal(problem.errors[0].path, "path.id");
    assert.match(problem.errors[0].message, /ops alert id/);
  });
});
