import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { auditEntries, authHeaders, createAdmin, otpHeaders } from "./helpers/identity.ts";
import {
  customerEvent,
  makeEvent,
  otherWebhookService,
  postEvent,
  testApplier,
  useApplier,
  WEBHOOK_ENV,
} from "./helpers/webhooks.ts";
import { keys } from "../kv/keys.ts";
import { listDeadJobs, listJobs, runDueJobs } from "../kv/jobs.ts";
import { webhookJobHandlers } from "../services/webhooks/service.ts";
import { WEBHOOK_MAX_ATTEMPTS, WEBHOOK_PROCESS_JOB } from "../services/webhooks/outcome.ts";
import { INLINE_LEASE_MS } from "../services/webhooks/claims.ts";
import { WEBHOOK_RETENTION_MS } from "../services/webhooks/outcome.ts";
import type { EventApplier } from "../services/webhooks/processing.ts";
import { systemContext } from "../domain/actor.ts";
import { CLAIM_MS } from "../services/webhooks/claims.ts";

async function withApp(fn: (t: TestApp) => Promise<void>) {
  const t = await createTestApp({ env: WEBHOOK_ENV });
  try {
    await fn(t);
  } finally {
    await t.services.webhooks.drain();
    await t.close();
  }
}

const cron = (t: TestApp) => runDueJobs(t.kv, t.clock, webhookJobHandlers(t.services));

/** Posts a customer event whose inline attempt fails (the applier fails once), drained. */
async function postFailingInline(t: TestApp) {
  const applier = testApplier(t);
  useApplier(t, applier);
  applier.failNext(1);
  const event = customerEvent();
  assert.equal((await postEvent(t.app, event, { clock: t.clock })).status, 200);
  await t.services.webhooks.drain();
  return { applier, event };
}

Deno.test("a failing applier leaves a webhook.process job that cron retries with backoff, then dead-letters", async () => {
  await withApp(async (t) => {
    const applier = testApplier(t);
    useApplier(t, applier);
    applier.failNext(Infinity);
    const event = customerEvent();
    assert.equal((await postEvent(t.app, event, { clock: t.clock })).status, 200);
    await t.services.webhooks.drain();

    let record = await t.services.webhooks.get(event.id);
    assert.equal(record.status, "failed");
    assert.equal(record.attempts, 1);
    assert.match(record.last_error ?? "", /injected by the test/);

    // The waits between attempts: 5 s after the inline one, then kv/jobs.ts's schedule.
    const expectedWaits = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 3_600_000];
    for (const [i, wait] of expectedWaits.entries()) {
      const [job] = await listJobs(t.kv);
      assert.equal(job.kind, WEBHOOK_PROCESS_JOB);
      assert.deepEqual(job.payload, { event_id: event.id });
      assert.equal(job.attempts, i + 1);
      assert.equal(job.due_at - t.clock.now(), wait, `wait before attempt ${i + 2}`);
      t.clock.advance(wait - 1);
      assert.deepEqual(await cron(t), { ran: 0, failed: 0, dead: 0 }, "not due yet");
      t.clock.advance(1);
      const pass = await cron(t);
      assert.equal(pass.ran, 0);
      if (i + 2 < WEBHOOK_MAX_ATTEMPTS) {
        assert.equal(pass.failed, 1);
        record = await t.services.webhooks.get(event.id);
        assert.equal(record.status, "failed");
      } else assert.equal(pass.dead, 1);
    }

    record = await t.services.webhooks.get(event.id);
    assert.equal(record.status, "dead");
    assert.equal(record.attempts, WEBHOOK_MAX_ATTEMPTS);
    assert.equal(applier.calls.length, WEBHOOK_MAX_ATTEMPTS);
    assert.deepEqual(await listJobs(t.kv), []);
    const dead = await listDeadJobs(t.kv);
    assert.deepEqual(dead.map((j) => j.payload), [{ event_id: event.id }]);
    const admin = await createAdmin(t, "admin");
    const listed = await t.app.request("/api/admin/payments/webhook-events?status=dead", {
      headers: authHeaders(admin),
    });
    assert.equal(listed.status, 200);
    const page = await listed.json();
    assert.deepEqual(page.data.map((e: { id: string }) => e.id), [event.id]);
    assert.equal(page.data[0].status, "dead");
    assert.deepEqual((await t.services.webhooks.list({ status: "failed", limit: 10 })).data, []);

    // The people on duty are told, once, in the commit that made it dead, with its audit entry.
    const alerts = await t.services.opsAlerts.list({ status: "open", limit: 10 });
    assert.deepEqual(
      alerts.data.map((a) => [a.kind, a.webhook_event_id, a.refund_id, a.amount]),
      [["webhook_event_dead", event.id, null, null]],
    );
    assert.match(alerts.data[0].detail, /failed 8 processing attempts.*injected by the test/);
    const raised = (await auditEntries(t.kv)).filter((e) => e.action === "ops_alert.raise");
    assert.deepEqual(raised.map((e) => [e.target?.id, e.actor.id]), [[
      event.id,
      WEBHOOK_PROCESS_JOB,
    ]]);

    // A last attempt run again (a second runner, say) leaves it dead without a second alert.
    await assert.rejects(
      t.services.webhooks.runJob({ ...dead[0], attempts: WEBHOOK_MAX_ATTEMPTS }),
      /injected by the test/,
    );
    assert.equal((await t.services.webhooks.get(event.id)).status, "dead");
    assert.equal((await t.services.opsAlerts.list({ limit: 10 })).data.length, 1);

    // A replay that fails again leaves the event dead and its alert open.
    const replayUrl = `/api/admin/payments/webhook-events/${event.id}/replay`;
    applier.failNext(1);
    const failed = await t.app.request(replayUrl, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    assert.equal((await failed.json()).replay.result, "failed");
    assert.equal((await t.services.webhooks.get(event.id)).status, "dead");
    assert.equal((await t.services.opsAlerts.list({ status: "open", limit: 10 })).data.length, 1);

    // The dead-lettered event is replayed by an admin once the cause is fixed, which closes
    // its alert in the same commit.
    applier.failNext(0);
    const replay = await t.app.request(replayUrl, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    assert.equal(replay.status, 200);
    assert.equal((await replay.json()).event.status, "processed");
    assert.deepEqual((await t.services.webhooks.list({ status: "dead", limit: 10 })).data, []);
    const [closedAlert] = (await t.services.opsAlerts.list({ limit: 10 })).data;
    assert.equal(closedAlert.status, "closed");
    assert.equal(closedAlert.closed_by, admin.id);
    assert.equal(closedAlert.close_note, `replayed by ${admin.id}: processed`);
    const closes = (await auditEntries(t.kv)).filter((e) => e.action === "ops_alert.close");
    assert.deepEqual(closes.map((e) => [e.target?.id, e.actor.id]), [[closedAlert.id, admin.id]]);
  });
});

Deno.test("a last attempt that fails while a replay processed the event leaves it processed, with no alert", async () => {
  await withApp(async (t) => {
    const base = t.services.stripeEvents;
    const admin = await createAdmin(t, "admin");
    // A second service on the same KV, as an admin's replay would run it, with a working applier.
    const replayer = otherWebhookService(t, base);
    const racing: EventApplier = {
      async apply(event) {
        // This (last) attempt hangs past its claim's time, so the admin's forced replay takes
        // the event over (a replay meanwhile is 409: the retry holds it) while it still fails.
        t.clock.advance(CLAIM_MS);
        await replayer.replay(
          {
            actor: { type: "admin", id: admin.id, role: "admin" },
            request: null,
            second_factor: true,
          },
          event.id,
          { force: true },
        );
        throw new Error("applier unavailable (injected by the test)");
      },
    };
    const { event } = await postFailingInline(t);
    assert.equal((await t.services.webhooks.get(event.id)).status, "failed");

    const runner = useApplier(t, racing);
    const [job] = await listJobs(t.kv);
    await assert.rejects(
      runner.runJob({ ...job, attempts: WEBHOOK_MAX_ATTEMPTS }),
      /injected by the test/,
    );
    const record = await t.services.webhooks.get(event.id);
    assert.equal(record.status, "processed", "the failed last attempt did not set it back");
    assert.equal(record.last_error, null, "nor shows its error as the event's");
    assert.equal(record.attempts, 3, "inline, the replay, the failed last attempt: once each");
    assert.deepEqual((await t.services.opsAlerts.list({ limit: 10 })).data, []);
  });
});

Deno.test("an event that failed inline is processed by the next cron pass once the applier recovers", async () => {
  await withApp(async (t) => {
    const { applier, event } = await postFailingInline(t);
    t.clock.advance(5_000);
    assert.deepEqual(await cron(t), { ran: 1, failed: 0, dead: 0 });
    const record = await t.services.webhooks.get(event.id);
    assert.equal(record.status, "processed");
    assert.equal(record.attempts, 2);
    assert.equal(record.last_error, null);
    assert.deepEqual(applier.calls, [event.id, event.id]);
    assert.deepEqual(await listJobs(t.kv), []);
  });
});

Deno.test("two cron runners racing for the same retry apply the event once", async () => {
  await withApp(async (t) => {
    const { applier, event } = await postFailingInline(t);
    t.clock.advance(5_000);
    const passes = await Promise.all([cron(t), cron(t), cron(t)]);
    assert.equal(passes.reduce((n, p) => n + p.ran, 0), 1);
    assert.deepEqual(applier.calls, [event.id, event.id]);
    assert.equal((await t.services.webhooks.get(event.id)).status, "processed");
  });
});

Deno.test("when the inline attempt outlives its lease, cron's second attempt is harmless", async () => {
  await withApp(async (t) => {
    const base = testApplier(t);
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    let first = true;
    const slow: EventApplier = {
      async apply(e) {
        if (first) {
          first = false;
          await gate; // the inline attempt hangs (a slow Stripe re-fetch, say)
        }
        return await base.apply(e);
      },
    };
    useApplier(t, slow);
    const event = customerEvent();
    await postEvent(t.app, event, { clock: t.clock });
    assert.deepEqual(await cron(t), { ran: 0, failed: 0, dead: 0 }, "leased to the inline attempt");
    t.clock.advance(INLINE_LEASE_MS);
    assert.deepEqual(await cron(t), { ran: 1, failed: 0, dead: 0 }, "cron takes over");
    release();
    await t.services.webhooks.drain();
    const record = await t.services.webhooks.get(event.id);
    assert.equal(record.status, "processed");
    assert.deepEqual(base.calls, [event.id, event.id]);
    assert.deepEqual(await listJobs(t.kv), []);
  });
});

Deno.test("the retention sweep walks arrivals past kept events, and keeps an event a late replay processed", async () => {
  await withApp(async (t) => {
    const DAY = 24 * 3600_000;
    const applier = testApplier(t);
    useApplier(t, applier);
    applier.failNext(Infinity);
    const broken = customerEvent("customer.updated");
    const late = customerEvent("customer.updated");
    for (const e of [broken, late]) await postEvent(t.app, e, { clock: t.clock });
    await t.services.webhooks.drain();
    applier.failNext(0);
    const done = [customerEvent(), customerEvent(), customerEvent()];
    for (const e of done) await postEvent(t.app, e, { clock: t.clock });
    await t.services.webhooks.drain();

    t.clock.advance(29 * DAY);
    const replayed = await t.services.webhooks.replay(systemContext("test"), late.id);
    assert.equal(replayed.event.status, "processed");
    const recent = customerEvent();
    await postEvent(t.app, recent, { clock: t.clock });
    await t.services.webhooks.drain();
    // a record lost without its index row (removed by hand, say)
    await t.kv.delete(keys.webhookEvent(done[2].id));

    t.clock.advance(2 * DAY);
    assert.deepEqual(await t.services.webhooks.sweepExpired(), { deleted: 2, kept: 2 });
    const page = await t.services.webhooks.list({ limit: 10 });
    assert.deepEqual(page.data.map((e) => e.id).sort(), [broken.id, late.id, recent.id].sort());
    const arrivals = [];
    for await (const row of t.kv.list({ prefix: keys.webhookEventsByArrivalPrefix() })) {
      arrivals.push(row.value);
    }
    assert.equal(arrivals.length, 3, "the stale arrival row went too");
  });
});

Deno.test("the retention sweep pages past more kept events than one page, within its scan and delete limits", async () => {
  await withApp(async (t) => {
    const applier = testApplier(t);
    useApplier(t, applier);
    applier.failNext(Infinity);
    for (let i = 0; i < 130; i++) {
      await postEvent(t.app, customerEvent("customer.updated"), { clock: t.clock });
    }
    await t.services.webhooks.drain();
    applier.failNext(0);
    for (let i = 0; i < 30; i++) await postEvent(t.app, customerEvent(), { clock: t.clock });
    await t.services.webhooks.drain();
    t.clock.advance(WEBHOOK_RETENTION_MS + 1);
    assert.deepEqual(await t.services.webhooks.sweepExpired(500, 120), { deleted: 0, kept: 120 });
    assert.deepEqual(await t.services.webhooks.sweepExpired(10), { deleted: 10, kept: 130 });
    assert.deepEqual(await t.services.webhooks.sweepExpired(), { deleted: 20, kept: 130 });
    assert.deepEqual(await t.services.webhooks.sweepExpired(), { deleted: 0, kept: 130 });
  });
});

Deno.test("the retention sweep forgets old processed events but keeps failed ones for replay", async () => {
  await withApp(async (t) => {
    const applier = testApplier(t);
    useApplier(t, applier);
    const done = customerEvent();
    const broken = customerEvent("customer.updated");
    await postEvent(t.app, done, { clock: t.clock });
    await t.services.webhooks.drain();
    applier.failNext(Infinity);
    await postEvent(t.app, broken, { clock: t.clock });
    await t.services.webhooks.drain();

    t.clock.advance(7 * 24 * 3600_000);
    assert.deepEqual(await t.services.webhooks.sweepExpired(), { deleted: 0, kept: 0 });
    const redelivered = await postEvent(t.app, done, { clock: t.clock });
    assert.equal((await redelivered.json()).duplicate, true, "ids are remembered for 7 days");

    t.clock.advance(WEBHOOK_RETENTION_MS);
    assert.deepEqual(await t.services.webhooks.sweepExpired(), { deleted: 1, kept: 1 });
    const page = await t.services.webhooks.list({ limit: 10 });
    assert.deepEqual(page.data.map((e) => e.id), [broken.id]);
    for await (const e of t.kv.list({ prefix: keys.webhookEventPayloadPrefix(done.id) })) {
      assert.fail(`payload chunk left behind: ${JSON.stringify(e.key)}`);
    }
  });
});

Deno.test("an event whose object lacks a field the service needs fails naming that field, not a KV error", async () => {
  await withApp(async (t) => {
    const event = makeEvent("payment_intent.succeeded", {
      id: "pi_probe1",
      object: "payment_intent",
    });
    const res = await postEvent(t.app, event, { clock: t.clock });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await t.services.webhooks.drain();
    const record = await t.services.webhooks.get(event.id);
    assert.equal(record.status, "failed");
    assert.match(
      record.last_error ?? "",
      /^payment_intent pi_probe1 lacks what the service needs: amount \(a number, missing\), currency \(a string, missing\), status \(a string, missing\), created \(a number, missing\)\./,
    );
    assert.equal((await t.services.transactions.list({ limit: 5 })).data.length, 0);
  });
});
