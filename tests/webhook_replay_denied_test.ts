/**
 * A refused replay is audited `denied` with its reason, as every refused
 * sensitive action is (README: the audit log records every action, denied
 * ones too); an answer (a second click) and a 404 decide nothing and are not.
 */
import assert from "node:assert/strict";
import type { TestApp } from "./helpers/app.ts";
import { createAdmin, stepUpHeaders } from "./helpers/identity.ts";
import { customerEvent, postEvent, withWebhookApp } from "./helpers/webhooks.ts";
import { listAuditLog } from "../services/audit/query.ts";

const BASE = "/api/admin/payments/webhook-events";

async function replayAudit(t: TestApp) {
  return (await listAuditLog(t.deps, t.services.cursors, { action: "webhook.replay", limit: 100 }))
    .data;
}

Deno.test("a replay refused (a processed event without force) is audited denied; a 404 and a second click's answer are not", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, admin);
    const replay = (id: string, query = "") =>
      t.app.request(`${BASE}/${id}/replay${query}`, { method: "POST", headers });

    const done = customerEvent();
    await (await postEvent(t.app, done, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    assert.equal((await t.services.webhooks.get(done.id)).status, "processed");
    const refused = await replay(done.id);
    assert.equal(refused.status, 409);
    const problem = await refused.json();
    assert.equal(problem.code, "conflict");
    assert.match(problem.detail, /is processed; only failed or dead events are replayed/);
    const [entry, ...more] = await replayAudit(t);
    assert.deepEqual(more, []);
    assert.equal(entry.result, "denied");
    assert.equal(entry.actor.id, admin.id);
    assert.deepEqual(entry.target, { type: "webhook_event", id: done.id });
    assert.equal(entry.reason, problem.detail, "the reason is what the admin was told");
    assert.deepEqual(entry.after, { code: "conflict", force: false });

    const unknown = await replay("evt_neverSeen");
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    assert.equal((await replayAudit(t)).length, 1, "a 404 is no refusal");

    applier.failNext(1);
    const broken = customerEvent("customer.updated");
    await (await postEvent(t.app, broken, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    for (let click = 0; click < 2; click++) {
      const res = await replay(broken.id);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).replay.result, "ok");
    }
    assert.deepEqual((await replayAudit(t)).map((e) => e.result), ["ok", "denied"]);
  });
});
