/**
 * An event an admin settles by hand (README, "Stripe webhooks": a replay that
 * processes it, or a dismissal) leaves no job behind: its dead-lettered
 * `webhook.process` job leaves `payops_jobs_dead`, and its pending retry
 * leaves `payops_jobs_waiting`, in the same commit, so those gauges tell what
 * still needs a person rather than what once did.
 */
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { createAdmin, otpHeaders, sendJson } from "./helpers/identity.ts";
import {
  customerEvent,
  postEvent,
  testApplier,
  useApplier,
  WEBHOOK_ENV,
} from "./helpers/webhooks.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";
import { listDeadJobs, listJobs, runDueJobs } from "../kv/jobs.ts";
import { webhookJobHandlers } from "../services/webhooks/service.ts";
import { WEBHOOK_MAX_ATTEMPTS } from "../services/webhooks/outcome.ts";

const METRICS_TOKEN = "scrape-token-0123456789";
const BASE = "/api/admin/payments/webhook-events";

async function withApp(fn: (t: TestApp) => Promise<void>) {
  const t = await createTestApp({ env: { ...WEBHOOK_ENV, METRICS_TOKEN } });
  try {
    await fn(t);
  } finally {
    await t.services.webhooks.drain();
    await t.close();
  }
}

async function gauge(t: TestApp, name: string) {
  const res = await t.app.request("/metrics", {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(res.status, 200);
  return sampleValue(parsePrometheus(await res.text()), name, { kind: "webhook.process" });
}

/** A customer event whose every attempt fails: `failed` after intake, or `dead` when asked. */
async function failingEvent(t: TestApp, dead: boolean) {
  const applier = testApplier(t);
  useApplier(t, applier);
  applier.failNext(Infinity);
  const event = customerEvent();
  assert.equal((await postEvent(t.app, event, { clock: t.clock })).status, 200);
  await t.services.webhooks.drain();
  if (dead) {
    for (let i = 0; i < WEBHOOK_MAX_ATTEMPTS; i++) {
      t.clock.advance(3_600_000);
      await runDueJobs(t.kv, t.clock, webhookJobHandlers(t.services));
    }
    assert.equal((await t.services.webhooks.get(event.id)).status, "dead");
    assert.equal((await listDeadJobs(t.kv)).length, 1);
  } else {
    assert.equal((await t.services.webhooks.get(event.id)).status, "failed");
    assert.equal((await listJobs(t.kv)).length, 1);
  }
  return { applier, event };
}

Deno.test("a dead event replayed until processed leaves no dead job: payops_jobs_dead drops to 0", async () => {
  await withApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const { applier, event } = await failingEvent(t, true);
    assert.equal(await gauge(t, "payops_jobs_dead"), 1);
    applier.failNext(0);
    const res = await sendJson(t, "POST", `${BASE}/${event.id}/replay`, otpHeaders(t, admin));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.event.status, "processed");
    assert.deepEqual(await listDeadJobs(t.kv), []);
    assert.equal(await gauge(t, "payops_jobs_dead"), 0);
  });
});

Deno.test("a replay that fails again keeps the dead job (the event still needs a person)", async () => {
  await withApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const { event } = await failingEvent(t, true);
    const res = await sendJson(t, "POST", `${BASE}/${event.id}/replay`, otpHeaders(t, admin));
    assert.equal(res.body.replay.result, "failed");
    assert.equal((await listDeadJobs(t.kv)).length, 1);
  });
});

Deno.test("a dead event dismissed leaves no dead job", async () => {
  await withApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const { event } = await failingEvent(t, true);
    const res = await sendJson(t, "POST", `${BASE}/${event.id}/dismiss`, otpHeaders(t, admin), {
      note: "a hand-made event; nothing of it is Stripe's",
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(await listDeadJobs(t.kv), []);
    assert.equal(await gauge(t, "payops_jobs_dead"), 0);
  });
});

Deno.test("a failed event dismissed or replayed leaves no retry waiting: payops_jobs_waiting drops at once", async () => {
  await withApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const first = await failingEvent(t, false);
    assert.equal(await gauge(t, "payops_jobs_waiting"), 1);
    const dismissed = await sendJson(
      t,
      "POST",
      `${BASE}/${first.event.id}/dismiss`,
      otpHeaders(t, admin),
      { note: "will never apply" },
    );
    assert.equal(dismissed.status, 200, JSON.stringify(dismissed.body));
    assert.deepEqual(await listJobs(t.kv), []);
    assert.equal(await gauge(t, "payops_jobs_waiting"), 0);

    const second = await failingEvent(t, false);
    second.applier.failNext(0);
    const replayed = await sendJson(
      t,
      "POST",
      `${BASE}/${second.event.id}/replay`,
      otpHeaders(t, admin),
    );
    assert.equal(replayed.body.event.status, "processed", JSON.stringify(replayed.body));
    assert.deepEqual(await listJobs(t.kv), []);
  });
});

Deno.test("the log line of a failed attempt says what happens next and what a person does", async () => {
  await withApp(async (t) => {
    const { event } = await failingEvent(t, false);
    const line = t.logs.find((l) => l.includes("webhook event processing failed"));
    assert.ok(line, t.logs.join("\n"));
    const fields = JSON.parse(line);
    assert.equal(fields.event_id, event.id);
    assert.match(fields.next, /retried by the webhook\.process job/);
    assert.match(fields.next, new RegExp(`/api/admin/payments/webhook-events/${event.id}/replay`));
    assert.match(fields.next, /dismiss/);
  });
});
