import assert from "node:assert/strict";
import { type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders } from "./helpers/identity.ts";
import { customerEvent, postEvent, testApplier, withWebhookApp } from "./helpers/webhooks.ts";
import { listAuditLog } from "../services/audit/query.ts";

const BASE = "/api/admin/payments/webhook-events";

/** Posts an event whose inline processing fails once (a retry job is pending). */
async function failedEvent(t: TestApp, applier: ReturnType<typeof testApplier>) {
  applier.failNext(1);
  const event = customerEvent("customer.updated");
  await postEvent(t.app, event, { clock: t.clock });
  await t.services.webhooks.drain();
  return event;
}

Deno.test("GET /webhook-events lists newest first, filters by status and type, and pages", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    const created = [customerEvent(), customerEvent(), customerEvent("customer.updated")];
    for (const e of created) {
      await postEvent(t.app, e, { clock: t.clock });
      t.clock.advance(1000);
    }
    await t.services.webhooks.drain();
    const failed = await failedEvent(t, applier);

    const all = await t.app.request(`${BASE}?limit=2`, { headers: authHeaders(admin) });
    assert.equal(all.status, 200);
    const page1 = await all.json();
    assert.deepEqual(page1.data.map((e: { id: string }) => e.id), [failed.id, created[2].id]);
    assert.equal(typeof page1.next_cursor, "string");
    const page2 = await (await t.app.request(
      `${BASE}?limit=2&cursor=${encodeURIComponent(page1.next_cursor)}`,
      { headers: authHeaders(admin) },
    )).json();
    assert.deepEqual(page2.data.map((e: { id: string }) => e.id), [created[1].id, created[0].id]);
    assert.equal(page2.next_cursor, null);

    const byType = await (await t.app.request(`${BASE}?type=customer.updated`, {
      headers: authHeaders(admin),
    })).json();
    assert.deepEqual(byType.data.map((e: { id: string }) => e.id), [failed.id, created[2].id]);

    const byStatus = await (await t.app.request(`${BASE}?status=failed`, {
      headers: authHeaders(admin),
    })).json();
    assert.deepEqual(byStatus.data.map((e: { id: string }) => e.id), [failed.id]);
    assert.equal(byStatus.data[0].attempts, 1);
    assert.match(byStatus.data[0].last_error, /injected/);

    const both = await (await t.app.request(`${BASE}?status=processed&type=customer.updated`, {
      headers: authHeaders(admin),
    })).json();
    assert.deepEqual(both.data.map((e: { id: string }) => e.id), [created[2].id]);

    const bad = await t.app.request(`${BASE}?status=lost`, { headers: authHeaders(admin) });
    assert.equal(bad.status, 422);
    assert.equal((await bad.json()).errors[0].path, "query.status");
  });
});

Deno.test("GET /webhook-events is for admins only", async () => {
  await withWebhookApp(async (t) => {
    const operator = await createAdmin(t, "operator");
    assert.equal((await t.app.request(BASE)).status, 401);
    const res = await t.app.request(BASE, { headers: authHeaders(operator) });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, "forbidden");
  });
});

Deno.test("POST /webhook-events/{id}/replay reprocesses a failed event, needs 2FA, and is audited", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    const event = await failedEvent(t, applier);
    const url = `${BASE}/${event.id}/replay`;

    const without = await t.app.request(url, { method: "POST", headers: authHeaders(admin) });
    assert.equal(without.status, 401);
    assert.equal((await without.json()).code, "otp_required");
    assert.equal(applier.calls.length, 1, "nothing ran without the second factor");

    const res = await t.app.request(url, { method: "POST", headers: otpHeaders(t, admin) });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.replay.result, "ok");
    assert.equal(body.event.status, "processed");
    assert.equal(body.event.attempts, 2);
    assert.deepEqual(applier.calls, [event.id, event.id]);

    const audit = await listAuditLog(t.deps, t.services.cursors, {
      action: "webhook.replay",
      limit: 10,
    });
    assert.equal(audit.data.length, 1);
    const entry = audit.data[0];
    assert.equal(entry.actor.id, admin.id);
    assert.deepEqual(entry.target, { type: "webhook_event", id: event.id });
    assert.equal(entry.result, "ok");

    // the same replay again (a second click) answers the first; anyone else's is 409
    const again = await t.app.request(url, { method: "POST", headers: otpHeaders(t, admin) });
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), body);
    assert.equal(applier.calls.length, 2, "not processed again");
    const other = await createAdmin(t, "admin");
    const theirs = await t.app.request(url, { method: "POST", headers: otpHeaders(t, other) });
    assert.equal(theirs.status, 409, "a processed event is replayed only with force");
    assert.match((await theirs.json()).detail, new RegExp(`replayed by ${admin.id} at `));
    const forced = await t.app.request(`${url}?force=true`, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    assert.equal(forced.status, 200);
    assert.equal(applier.calls.length, 3);
  });
});

Deno.test("a replay that fails again is answered 200 with the failure and audited as failed", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    const event = await failedEvent(t, applier);
    applier.failNext(1);
    const res = await t.app.request(`${BASE}/${event.id}/replay`, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.replay.result, "failed");
    assert.match(body.replay.error, /injected/);
    assert.equal(body.event.status, "failed");
    const audit = await listAuditLog(t.deps, t.services.cursors, {
      action: "webhook.replay",
      limit: 10,
    });
    assert.equal(audit.data[0].result, "failed");
  });
});

Deno.test("replaying an unknown event id is 404", async () => {
  await withWebhookApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const res = await t.app.request(`${BASE}/evt_nope/replay`, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).code, "not_found");
  });
});

Deno.test("GET /webhook-events/{id} shows the stored payload", async () => {
  await withWebhookApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const event = customerEvent();
    await postEvent(t.app, event, { clock: t.clock });
    await t.services.webhooks.drain();
    const res = await t.app.request(`${BASE}/${event.id}`, { headers: authHeaders(admin) });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, "processed");
    assert.deepEqual(body.payload, JSON.parse(JSON.stringify(event)));
  });
});
