/**
 * An attempt that outlives every retry (its Stripe read-back held longer than
 * the retries took to use up their attempts) and then processes the event:
 * the event no longer needs a replay, so its `webhook_event_dead` alert closes
 * by itself, audited, and its dead-lettered retry goes (README, "Ops alerts").
 * Both ways an attempt settles: in the applier's commit (the service's own
 * applier) and in a commit of its own (an applier that does not join it).
 */
import assert from "node:assert/strict";
import { refundedChargeEvent } from "./helpers/emulator.ts";
import { waitUntil } from "./helpers/waiting.ts";
import { auditEntries } from "./helpers/identity.ts";
import {
  customerEvent,
  deliverWithReadBackHeld,
  otherWebhookService,
  postEvent,
  useApplier,
  WEBHOOK_ENV,
  withEmulatorApp,
} from "./helpers/webhooks.ts";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { listDeadJobs, listJobs, runDueJobs } from "../kv/jobs.ts";
import { webhookJobHandlers } from "../services/webhooks/service.ts";
import { WEBHOOK_MAX_ATTEMPTS, WEBHOOK_PROCESS_JOB } from "../services/webhooks/outcome.ts";
import { INLINE_LEASE_MS } from "../services/webhooks/claims.ts";
import type { EventApplier } from "../services/webhooks/processing.ts";

const failing: EventApplier = {
  apply: () => Promise.reject(new Error("Stripe unreachable from this isolate (injected)")),
};

/**
 * Past the inline lease, another isolate's retries (whose applier always
 * fails) use up every attempt: the event is `dead`, with its alert open.
 */
async function retriesUseUpTheirAttempts(t: TestApp, eventId: string): Promise<void> {
  const other = otherWebhookService(t, failing);
  const handlers = webhookJobHandlers({ webhooks: other });
  t.clock.advance(INLINE_LEASE_MS);
  for (let i = 0; i < WEBHOOK_MAX_ATTEMPTS && (await listJobs(t.kv)).length; i++) {
    const [job] = await listJobs(t.kv);
    t.clock.advance(Math.max(0, job.due_at - t.clock.now()));
    await runDueJobs(t.kv, t.clock, handlers);
  }
  assert.equal((await t.services.webhooks.get(eventId)).status, "dead");
  const open = await t.services.opsAlerts.list({ status: "open", limit: 10 });
  assert.deepEqual(open.data.map((a) => [a.kind, a.webhook_event_id]), [[
    "webhook_event_dead",
    eventId,
  ]]);
  assert.equal((await listDeadJobs(t.kv)).length, 1);
}

/** What the late success must leave: processed, the alert closed and audited, no dead job. */
async function assertSettledByTheLateAttempt(t: TestApp, eventId: string): Promise<void> {
  const record = await t.services.webhooks.get(eventId);
  assert.equal(record.status, "processed");
  assert.equal(record.last_error, null);
  assert.deepEqual((await t.services.opsAlerts.list({ status: "open", limit: 10 })).data, []);
  const [closed] = (await t.services.opsAlerts.list({ status: "closed", limit: 10 })).data;
  assert.equal(closed.kind, "webhook_event_dead");
  assert.equal(closed.webhook_event_id, eventId);
  assert.equal(closed.closed_by, WEBHOOK_PROCESS_JOB);
  assert.match(
    closed.close_note ?? "",
    /processed by an attempt still running when it was declared dead/,
  );
  const closes = (await auditEntries(t.kv)).filter((e) => e.action === "ops_alert.close");
  assert.deepEqual(closes.map((e) => [e.target?.id, e.actor.id, e.result]), [[
    closed.id,
    WEBHOOK_PROCESS_JOB,
    "ok",
  ]]);
  assert.deepEqual(await listDeadJobs(t.kv), [], "its dead-lettered retry is gone");
  assert.deepEqual(await listJobs(t.kv), []);
}

Deno.test("an inline attempt that outlived every retry and then processed the event closes its dead alert", async () => {
  await withEmulatorApp(async ({ t, emu, stripe }) => {
    const { event, pi } = await refundedChargeEvent(stripe, "late@example.com");
    const held = await deliverWithReadBackHeld({ t, emu }, event);

    await retriesUseUpTheirAttempts(t, event.id);

    await held.release();
    await t.services.webhooks.drain();
    await assertSettledByTheLateAttempt(t, event.id);
    assert.equal((await t.services.transactions.get(pi)).amount_refunded, 4200);
  }, { deliver: false });
});

Deno.test("a late success settled in its own commit (an applier that does not join) closes the dead alert too", async () => {
  const t = await createTestApp({ env: WEBHOOK_ENV });
  try {
    const gate = Promise.withResolvers<void>();
    let entered = false;
    useApplier(t, {
      async apply(event) {
        entered = true;
        await gate.promise;
        return await t.services.stripeEvents.apply(event);
      },
    });
    const event = customerEvent();
    assert.equal((await postEvent(t.app, event, { clock: t.clock })).status, 200);
    await waitUntil(() => entered, "the inline attempt did not start");

    await retriesUseUpTheirAttempts(t, event.id);

    gate.resolve();
    await t.services.webhooks.drain();
    await assertSettledByTheLateAttempt(t, event.id);
  } finally {
    await t.services.webhooks.drain();
    await t.close();
  }
});
