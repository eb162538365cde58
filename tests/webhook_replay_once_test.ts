/**
 * A replay processes its event once (README, "Stripe webhooks"): the same
 * admin's replay sent again (a second click, a burst, on any isolate) answers
 * what the first did with nothing written; another admin's replay while one
 * runs is 409 naming who is replaying it and since when, and one after it
 * processed the event is 409 naming who replayed it and when (unless forced:
 * then it is processed again); the retry job
 * and a dismissal never process or close the event under a running replay,
 * nor a replay under a running retry.
 */
import assert from "node:assert/strict";
import type { TestApp } from "./helpers/app.ts";
import { adminContext, createAdmin } from "./helpers/identity.ts";
import {
  type CountingApplier,
  customerEvent,
  otherWebhookService,
  postEvent,
  useApplier,
  withWebhookApp,
} from "./helpers/webhooks.ts";
import type { EventApplier } from "../services/webhooks/processing.ts";
import { listAuditLog } from "../services/audit/query.ts";
import { listJobs } from "../kv/jobs.ts";

async function audit(t: TestApp, action: string) {
  return (await listAuditLog(t.deps, t.services.cursors, { action, limit: 100 })).data;
}

/** An event whose inline attempt failed: `failed`, its retry job waiting. */
async function failedEvent(t: TestApp, applier: CountingApplier) {
  applier.failNext(1);
  const event = customerEvent("customer.updated");
  await (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
  await t.services.webhooks.drain();
  assert.equal((await t.services.webhooks.get(event.id)).status, "failed");
  return event;
}

/** `base`, whose next call waits until `open()`; `entered` resolves once it is waiting. */
function gated(base: EventApplier) {
  let open!: () => void;
  let entered!: () => void;
  const gate = new Promise<void>((r) => open = r);
  const inside = new Promise<void>((r) => entered = r);
  let first = true;
  const applier: EventApplier = {
    async apply(event, options) {
      if (first) {
        first = false;
        entered();
        await gate;
      }
      return await base.apply(event, options);
    },
  };
  return { applier, open, entered: inside };
}

const conflict = (pattern: RegExp) => (e: { code?: string; message?: string }) => {
  assert.equal(e.code, "conflict", e.message);
  assert.match(e.message ?? "", pattern);
  return true;
};

Deno.test("the same admin's replay sent again answers the first one, nothing processed or written; another admin's is 409 naming who and when", async () => {
  await withWebhookApp(async (t, applier) => {
    const [admin, other] = [await createAdmin(t, "admin"), await createAdmin(t, "admin")];
    const event = await failedEvent(t, applier);
    const calls = applier.calls.length;
    const first = await t.services.webhooks.replay(adminContext(admin), event.id);
    assert.equal(first.replay.result, "ok");
    const again = await t.services.webhooks.replay(adminContext(admin), event.id);
    assert.deepEqual(again, first);
    assert.equal(applier.calls.length - calls, 1, "processed once");
    assert.equal((await audit(t, "webhook.replay")).length, 1);

    const at = first.event.processed_at!;
    await assert.rejects(
      () => t.services.webhooks.replay(adminContext(other), event.id),
      conflict(new RegExp(`is processed.*replayed by ${admin.id} at ${at}`)),
    );

    // forced, it is processed again, as `force` asks: audited, counted in attempts
    const forced = await t.services.webhooks.replay(adminContext(other), event.id, {
      force: true,
    });
    assert.equal(forced.replay.result, "ok");
    assert.equal(applier.calls.length - calls, 2);
    assert.equal(forced.event.attempts, first.event.attempts + 1);
    assert.equal(forced.event.last_replay?.by, other.id);
    const entries = await audit(t, "webhook.replay");
    assert.deepEqual(entries.map((e) => [e.actor.id, e.result]).slice(0, 2), [
      [other.id, "ok"],
      [other.id, "denied"],
    ]);
  });
});

Deno.test("one admin's replays of one event at once on two isolates: one processing, every answer it", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    const event = await failedEvent(t, applier);
    const g = gated(applier);
    useApplier(t, g.applier);
    const other = otherWebhookService(t, g.applier);
    const calls = applier.calls.length;
    const ctx = adminContext(admin);
    const firstOne = t.services.webhooks.replay(ctx, event.id);
    await g.entered;
    const rest = [
      other.replay(ctx, event.id),
      t.services.webhooks.replay(ctx, event.id),
      other.replay(ctx, event.id),
    ];
    await new Promise((r) => setTimeout(r, 50));
    g.open();
    const answers = await Promise.all([firstOne, ...rest]);
    for (const a of answers) assert.deepEqual(a, answers[0]);
    assert.equal(answers[0].replay.result, "ok");
    assert.equal(applier.calls.length - calls, 1, "processed once");
    assert.equal((await audit(t, "webhook.replay")).length, 1);
  });
});

Deno.test("two admins replaying one event at once: one processes it, the other is 409 naming who is replaying it", async () => {
  await withWebhookApp(async (t, applier) => {
    const [a, b] = [await createAdmin(t, "admin"), await createAdmin(t, "admin")];
    const event = await failedEvent(t, applier);
    const g = gated(applier);
    useApplier(t, g.applier);
    const other = otherWebhookService(t, g.applier);
    const calls = applier.calls.length;
    const first = t.services.webhooks.replay(adminContext(a), event.id);
    await g.entered;
    await assert.rejects(
      () => other.replay(adminContext(b), event.id),
      conflict(new RegExp(`is being replayed by ${a.id} since `)),
    );
    await assert.rejects(
      () => other.replay(adminContext(a), event.id, { force: true }),
      conflict(new RegExp(`is being replayed by you \\(${a.id}\\) since `)),
    );
    g.open();
    assert.equal((await first).replay.result, "ok");
    assert.equal(applier.calls.length - calls, 1, "processed once");
    const entries = await audit(t, "webhook.replay");
    const ok = entries.filter((e) => e.result === "ok");
    assert.deepEqual(ok.map((e) => e.actor.id), [a.id]);
    // each refusal is audited denied, with its reason (README: denied ones too)
    const denied = entries.filter((e) => e.result === "denied");
    assert.deepEqual(denied.map((e) => e.actor.id).sort(), [a.id, b.id].sort());
    for (const e of denied) assert.match(e.reason ?? "", /is being replayed by /);
  });
});

Deno.test("a replay while the retry job processes the event is 409 naming the retry; the job waits for a running replay", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    // the retry job is processing it when the replay arrives
    const event = await failedEvent(t, applier);
    const g = gated(applier);
    const runner = useApplier(t, g.applier);
    const [job] = await listJobs(t.kv);
    const calls = applier.calls.length;
    const retry = runner.runJob(job);
    await g.entered;
    await assert.rejects(
      () => t.services.webhooks.replay(adminContext(admin), event.id),
      conflict(/is being processed by its retry since /),
    );
    await assert.rejects(
      () => t.services.webhooks.replay(adminContext(admin), event.id, { force: true }),
      conflict(/is being processed by its retry since /),
      "forced or not",
    );
    g.open();
    await retry;
    assert.equal((await t.services.webhooks.get(event.id)).status, "processed");
    assert.equal(applier.calls.length - calls, 1, "processed once");
    const refusedDuringRetry = await audit(t, "webhook.replay");
    assert.deepEqual(refusedDuringRetry.map((e) => e.result), ["denied", "denied"]);
    for (const e of refusedDuringRetry) {
      assert.match(e.reason ?? "", /is being processed by its retry since /);
    }

    // a replay is processing it when the retry job runs: the job waits, then finds it processed
    const second = await failedEvent(t, applier);
    const h = gated(applier);
    useApplier(t, h.applier);
    const [job2] = (await listJobs(t.kv)).filter((j) =>
      (j.payload as { event_id: string }).event_id === second.id
    );
    const before = applier.calls.length;
    const replay = t.services.webhooks.replay(adminContext(admin), second.id);
    await h.entered;
    const jobRun = t.services.webhooks.runJob(job2);
    await new Promise((r) => setTimeout(r, 50));
    h.open();
    assert.equal((await replay).replay.result, "ok");
    await jobRun;
    assert.equal(applier.calls.length - before, 1, "processed once");
    const record = await t.services.webhooks.get(second.id);
    assert.equal(record.status, "processed");
    const replays = await audit(t, "webhook.replay");
    assert.deepEqual(replays.map((e) => e.result).sort(), ["denied", "denied", "ok"]);
  });
});

Deno.test("a dismissal while a replay runs is 409 naming the replay; a replay after a dismissal is 409 naming who dismissed it", async () => {
  await withWebhookApp(async (t, applier) => {
    const [a, b] = [await createAdmin(t, "admin"), await createAdmin(t, "admin")];
    const event = await failedEvent(t, applier);
    const g = gated(applier);
    useApplier(t, g.applier);
    const other = otherWebhookService(t, g.applier);
    const replay = t.services.webhooks.replay(adminContext(a), event.id);
    await g.entered;
    await assert.rejects(
      () => other.dismiss(adminContext(b), event.id, "will never process"),
      conflict(new RegExp(`is being replayed by ${a.id} since `)),
    );
    g.open();
    assert.equal((await replay).replay.result, "ok");
    assert.equal((await t.services.webhooks.get(event.id)).status, "processed");
    // refused, so audited denied with the reason; nothing dismissed
    const refusedDismissal = await audit(t, "webhook.dismiss");
    assert.deepEqual(refusedDismissal.map((e) => [e.result, e.actor.id]), [["denied", b.id]]);
    assert.match(String(refusedDismissal[0].reason), new RegExp(`is being replayed by ${a.id}`));

    const second = await failedEvent(t, applier);
    await t.services.webhooks.dismiss(adminContext(b), second.id, "will never process");
    const calls = applier.calls.length;
    await assert.rejects(
      () => other.replay(adminContext(a), second.id),
      conflict(new RegExp(`is ignored.*dismissed by ${b.id} at `)),
    );
    assert.equal(applier.calls.length, calls, "not processed");
  });
});
