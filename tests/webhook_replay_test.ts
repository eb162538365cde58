/**
 * Replays of stored webhook events: the mode check of the intake holds for a
 * replay, forced or not (README, "Stripe webhooks"), and replays of one event
 * sent at the same moment behave as if sent one after the other.
 */
import assert from "node:assert/strict";
import type { TestApp } from "./helpers/app.ts";
import { adminContext, createAdmin, otpHeaders, stepUpHeaders } from "./helpers/identity.ts";
import { customerEvent, postEvent, useApplier, withWebhookApp } from "./helpers/webhooks.ts";
import { paymentStory, T0 } from "./helpers/stripe_objects.ts";
import { listAuditLog } from "../services/audit/query.ts";
import { createWebhookService } from "../services/webhooks/service.ts";

const BASE = "/api/admin/payments/webhook-events";

async function replayAudit(t: TestApp) {
  return (await listAuditLog(t.deps, t.services.cursors, { action: "webhook.replay", limit: 100 }))
    .data;
}

Deno.test("a live event recorded ignored on a test-mode service is never replayed, forced or not: 409 saying why", async () => {
  await withWebhookApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const story = paymentStory({ customer: "cus_LiveReplay", amount: 1000 });
    const live = { ...story.piSucceeded(T0), livemode: true };
    const res = await postEvent(t.app, live, { clock: t.clock });
    assert.equal(res.status, 200);
    await t.services.webhooks.drain();
    const before = await t.services.webhooks.get(live.id);
    assert.equal(before.status, "ignored");

    for (const query of ["?force=true", ""]) {
      const replay = await t.app.request(`${BASE}/${live.id}/replay${query}`, {
        method: "POST",
        headers: otpHeaders(t, admin),
      });
      assert.equal(replay.status, 409, `replay${query}`);
      assert.match(replay.headers.get("content-type") ?? "", /application\/problem\+json/);
      const problem = await replay.json();
      assert.equal(problem.code, "conflict");
      assert.match(problem.detail, /live event .*test key/);
      assert.match(problem.detail, /STRIPE_WEBHOOK_SECRETS/);
    }
    assert.equal((await t.services.transactions.list({ limit: 10 })).data.length, 0);
    await assert.rejects(() => t.services.transactions.get(story.pi));
    const after = await t.services.webhooks.get(live.id);
    assert.equal(after.status, "ignored");
    assert.equal(after.detail, before.detail, "the mismatch reason is kept");
    assert.equal(after.attempts, before.attempts);
    // both refusals are audited denied, naming the mode (README: denied ones too)
    const denied = await replayAudit(t);
    assert.deepEqual(denied.map((e) => [e.actor.id, e.result]), [
      [admin.id, "denied"],
      [admin.id, "denied"],
    ]);
    for (const e of denied) {
      assert.deepEqual(e.target, { type: "webhook_event", id: live.id });
      assert.match(e.reason ?? "", /live event .*test key/);
    }
    assert.deepEqual(denied.map((e) => (e.after as { force: boolean }).force).sort(), [
      false,
      true,
    ]);
  });
});

Deno.test("a failed test event is not replayed into a service now running with a live key", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    applier.failNext(1);
    const event = customerEvent("customer.updated");
    await (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    assert.equal((await t.services.webhooks.get(event.id)).status, "failed");
    // the same store, served again with a live key (a test endpoint's event left behind)
    const stripe = { ...t.deps.config.stripe, livemode: true };
    const live = createWebhookService({ ...t.deps, config: { ...t.deps.config, stripe } }, {
      audit: t.services.audit,
      newId: t.services.newId,
      cursors: t.services.cursors,
      applier,
    });
    await assert.rejects(
      () => live.replay(adminContext(admin), event.id, { force: true }),
      (e: { code?: string; message?: string }) =>
        e.code === "conflict" && /test event .*live key/.test(e.message ?? ""),
    );
    assert.equal(applier.calls.length, 1, "only the intake's attempt ran");
    assert.equal((await t.services.webhooks.get(event.id)).status, "failed");
  });
});

Deno.test("ten replays of one failed event at once by one admin: one runs and is audited, every answer is it, as a second click's is", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    applier.failNext(1);
    const event = customerEvent("customer.updated");
    await (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    const failed = await t.services.webhooks.get(event.id);
    assert.equal(failed.status, "failed");
    const calls = applier.calls.length;
    const headers = await stepUpHeaders(t, admin);

    const answers = await Promise.all(
      Array.from(
        { length: 10 },
        () => t.app.request(`${BASE}/${event.id}/replay`, { method: "POST", headers }),
      ),
    );
    assert.deepEqual(answers.map((r) => r.status), Array(10).fill(200));
    const bodies = await Promise.all(answers.map((r) => r.json()));
    // as a replay sent again after the first one finished (a second click) is answered
    const sequential = await t.app.request(`${BASE}/${event.id}/replay`, {
      method: "POST",
      headers,
    });
    assert.equal(sequential.status, 200);
    const second = await sequential.json();
    for (const b of bodies) assert.deepEqual(b, second);
    assert.equal(applier.calls.length - calls, 1, "the applier ran once");
    const record = await t.services.webhooks.get(event.id);
    assert.equal(record.status, "processed");
    assert.equal(record.attempts, failed.attempts + 1);
    assert.equal((await replayAudit(t)).length, 1);
  });
});

Deno.test("a replay sent on another isolate while one processes the event is 409 naming it, and the event is processed once", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    const second = await createAdmin(t, "admin");
    applier.failNext(1);
    const event = customerEvent("customer.updated");
    await (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    const failed = await t.services.webhooks.get(event.id);
    // another isolate's replay lands while this one is applying the event
    const other = createWebhookService(t.deps, {
      audit: t.services.audit,
      newId: t.services.newId,
      cursors: t.services.cursors,
      applier,
    });
    let raced: unknown = null;
    const calls = applier.calls.length;
    useApplier(t, {
      async apply(e, options) {
        if (raced === null) {
          raced = await other.replay(adminContext(second), event.id).catch((error) => error);
        }
        return await applier.apply(e, options);
      },
    });
    const done = await t.services.webhooks.replay(adminContext(admin), event.id);
    assert.equal(done.replay.result, "ok");
    const refused = raced as { code?: string; message?: string };
    assert.equal(refused.code, "conflict");
    assert.match(refused.message ?? "", new RegExp(`is being replayed by ${admin.id} since `));
    const record = await t.services.webhooks.get(event.id);
    assert.equal(record.status, "processed");
    assert.equal(record.attempts, failed.attempts + 1);
    assert.equal(applier.calls.length - calls, 1, "processed once");
    const entries = await replayAudit(t);
    assert.deepEqual(
      entries.map((e) => [e.actor.id, e.result]).sort(),
      [
        [admin.id, "ok"],
        [second.id, "denied"],
      ].sort(),
    );
  });
});
