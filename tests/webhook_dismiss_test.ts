/**
 * POST /webhook-events/{id}/dismiss (README, "Stripe webhooks"): an admin
 * records a failed or dead event that will never process as `ignored`
 * (`dismissed`) with a note, audited; its retries stop and it leaves the
 * failed/dead counts. Any other status is 409.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  auditEntries,
  createAdmin,
  otpHeaders,
  sendJson,
  stepUpHeaders,
} from "./helpers/identity.ts";
import { makeEvent, postEvent, WEBHOOK_ENV } from "./helpers/webhooks.ts";
import { runDueJobs } from "../kv/jobs.ts";
import { webhookJobHandlers } from "../services/webhooks/service.ts";
import { INLINE_LEASE_MS } from "../services/webhooks/claims.ts";

const BASE = "/api/admin/payments/webhook-events";

Deno.test("a failed event is dismissed with a note: ignored (dismissed), audited, never retried; twice is 409", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const event = makeEvent("payment_intent.succeeded", {
      id: "pi_bad1",
      object: "payment_intent",
    });
    await (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    assert.equal((await t.services.webhooks.get(event.id)).status, "failed");

    const noNote = await sendJson(
      t,
      "POST",
      `${BASE}/${event.id}/dismiss`,
      otpHeaders(t, admin),
      {},
    );
    assert.equal(noNote.status, 422);
    assert.equal(noNote.body.errors[0].path, "body.note");

    const res = await sendJson(t, "POST", `${BASE}/${event.id}/dismiss`, otpHeaders(t, admin), {
      note: "sent by hand in a test; not Stripe's",
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "ignored");
    assert.equal(res.body.ignored_reason, "dismissed");
    const entry = (await auditEntries(t.kv)).find((e) => e.action === "webhook.dismiss");
    assert.equal(entry?.result, "ok");
    assert.equal(entry?.actor.id, admin.id);
    assert.match(String(entry?.reason), /sent by hand/);

    // its retry finds it ignored and leaves it so
    t.clock.advance(INLINE_LEASE_MS + 60_000);
    await runDueJobs(t.kv, t.clock, webhookJobHandlers(t.services));
    assert.equal((await t.services.webhooks.get(event.id)).status, "ignored");
    const listed = await t.services.webhooks.list({ ignored_reason: "dismissed", limit: 10 });
    assert.deepEqual(listed.data.map((e) => e.id), [event.id]);

    const again = await sendJson(t, "POST", `${BASE}/${event.id}/dismiss`, otpHeaders(t, admin), {
      note: "again",
    });
    assert.equal(again.status, 409);
    assert.match(again.body.detail, /is ignored; only failed or dead events are dismissed/);
    // the refusal is audited denied with what the admin was told; no second dismissal
    const dismissals = (await auditEntries(t.kv)).filter((e) => e.action === "webhook.dismiss");
    assert.deepEqual(dismissals.map((e) => e.result), ["ok", "denied"]);
    assert.equal(dismissals[1].reason, again.body.detail);
    assert.deepEqual(dismissals[1].target, { type: "webhook_event", id: event.id });
    assert.deepEqual(dismissals[1].after, { code: "conflict" });
  }, { env: WEBHOOK_ENV });
});

Deno.test("a dismissal sent again by the same admin answers the dismissed event; a burst dismisses once; another admin's is 409 naming who and when", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const other = await createAdmin(t, "admin");
    const event = makeEvent("payment_intent.succeeded", {
      id: "pi_bad2",
      object: "payment_intent",
    });
    await (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    assert.equal((await t.services.webhooks.get(event.id)).status, "failed");

    const note = "a hand-made test event; nothing of it is Stripe's";
    const dismiss = (h: Record<string, string>, body = { note }) =>
      sendJson(t, "POST", `${BASE}/${event.id}/dismiss`, h, body);
    const stepUp = await stepUpHeaders(t, admin);
    const burst = await Promise.all(Array.from({ length: 6 }, () => dismiss(stepUp)));
    assert.deepEqual(
      burst.map((r) => r.status),
      [200, 200, 200, 200, 200, 200],
      JSON.stringify(burst.map((r) => r.body)),
    );
    for (const r of burst) assert.deepEqual(r.body, burst[0].body);
    assert.equal(burst[0].body.ignored_reason, "dismissed");
    const written = (await auditEntries(t.kv)).filter((e) => e.action === "webhook.dismiss");
    assert.deepEqual(written.map((e) => e.result), ["ok"], "one dismissal, nothing more written");

    const again = await dismiss(otpHeaders(t, admin));
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, burst[0].body);

    const dismissedAt = burst[0].body.processed_at;
    const theirs = await dismiss(otpHeaders(t, other));
    assert.equal(theirs.status, 409);
    assert.ok(
      theirs.body.detail.includes(`dismissed by ${admin.id} at ${dismissedAt}`),
      theirs.body.detail,
    );
    const otherNote = await dismiss(otpHeaders(t, admin), { note: "another reason" });
    assert.equal(otherNote.status, 409, "a different note is another decision");
    const dismissals = (await auditEntries(t.kv)).filter((e) => e.action === "webhook.dismiss");
    assert.equal(
      dismissals.filter((e) => e.result === "ok").length,
      1,
      "refusals write no dismissal",
    );
    // each refusal is audited denied, as the admin was told, by whoever was refused
    const denied = dismissals.filter((e) => e.result === "denied");
    assert.deepEqual(denied.map((e) => [e.actor.id, e.reason]), [
      [other.id, theirs.body.detail],
      [admin.id, otherNote.body.detail],
    ]);
    // the same dismissal again is answered and writes nothing
    const count = (await auditEntries(t.kv)).length;
    assert.equal((await dismiss(otpHeaders(t, admin))).status, 200);
    assert.equal((await auditEntries(t.kv)).length, count, "an answer writes nothing");
  }, { env: WEBHOOK_ENV });
});
