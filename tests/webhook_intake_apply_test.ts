import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type TestApp } from "./helpers/app.ts";
import { auditEntries } from "./helpers/identity.ts";
import { kvSnapshot, makeEvent, postEvent, withIntakeApp } from "./helpers/webhooks.ts";
import { paymentIntentObject, paymentStory, stripeEvent, T0 } from "./helpers/stripe_objects.ts";
import { keys } from "../kv/keys.ts";
import { listJobs } from "../kv/jobs.ts";
import { getEvent, INLINE_PAYLOAD_BYTES, readPayload } from "../kv/webhook_events.ts";
import { WEBHOOK_PROCESS_JOB } from "../services/webhooks/outcome.ts";
import { WEBHOOK_RETENTION_MS } from "../services/webhooks/outcome.ts";
import { systemContext } from "../domain/actor.ts";

/** The real applier (services.stripeEvents): the intake applies plain ingestion itself. */
async function post(t: TestApp, event: Stripe.Event) {
  const res = await postEvent(t.app, event, { clock: t.clock });
  assert.equal(res.status, 200);
  return await res.json() as { received: true; event_id: string; duplicate?: true };
}

async function ledgerOf(t: TestApp, customer: string) {
  const view = await t.services.customers.get(customer, { limit: 100 });
  return view.ledger.data.map((e) => [e.type, e.amount]);
}

async function versionstampOf(kv: Deno.Kv, key: Deno.KvKey) {
  return (await kv.get(key)).versionstamp;
}

Deno.test("a payment event is applied in the commit that stores it: processed before Stripe's answer, no job", async () => {
  await withIntakeApp(async (t) => {
    const pi = paymentIntentObject({
      amount: 4200,
      customer: "cus_atIntake1",
      status: "succeeded",
    });
    const event = stripeEvent("payment_intent.succeeded", pi, T0);
    assert.deepEqual(await post(t, event), { received: true, event_id: event.id });

    // no drain(): nothing is left to the background
    const stored = await t.services.webhooks.get(event.id);
    assert.equal(stored.status, "processed");
    assert.equal(stored.attempts, 1);
    assert.match(stored.detail ?? "", /^pi .* -> txn_\w+ \(succeeded\)$/);
    assert.deepEqual(stored.payload, JSON.parse(JSON.stringify(event)));
    assert.deepEqual(await listJobs(t.kv), []);
    const txn = await t.services.transactions.get(pi.id);
    assert.equal(txn.amount, 4200);
    assert.deepEqual(await ledgerOf(t, "cus_atIntake1"), [["payment", 4200]]);

    const record = (await getEvent(t.kv, event.id)).value!;
    assert.equal(record.job_id, null);
    assert.equal(
      await versionstampOf(t.kv, keys.webhookEvent(event.id)),
      await versionstampOf(t.kv, keys.transaction(txn.id)),
      "the event is stored by the commit that applied it",
    );
  });
});

Deno.test("a small payload is kept in the record, deflated, and processed events stay out of the status index", async () => {
  await withIntakeApp(async (t) => {
    const event = stripeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({ customer: "cus_atIntake2", status: "succeeded" }),
      T0,
    );
    await post(t, event);
    const record = (await getEvent(t.kv, event.id)).value!;
    assert.equal(await readPayload(t.kv, record), JSON.stringify(event));
    assert.equal(record.payload_chunks, 0);
    assert.equal(record.payload_encoding, "deflate-raw");
    assert.equal(record.payload, undefined);
    const json = new TextEncoder().encode(JSON.stringify(event));
    assert.equal(record.payload_bytes, json.length);
    // deflated, and stored as its own bytes (not a view of a larger buffer)
    assert.ok(record.payload_z!.byteLength < json.length / 2, `${record.payload_z!.byteLength}`);
    assert.equal(record.payload_z!.buffer.byteLength, record.payload_z!.byteLength);
    const under = async (prefix: Deno.KvKey) => {
      const found = [];
      for await (const e of t.kv.list({ prefix })) found.push(e.key);
      return found;
    };
    assert.deepEqual(await under(keys.webhookEventPayloadPrefix(event.id)), []);
    assert.deepEqual(await under(keys.webhookEventsByStatusPrefix("processed")), []);
    const listed = await t.services.webhooks.list({ status: "processed", limit: 10 });
    assert.deepEqual(listed.data.map((e) => e.id), [event.id]);
  });
});

Deno.test("concurrent deliveries of one event through the intake store it once and apply it once", async () => {
  await withIntakeApp(async (t) => {
    const event = stripeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({ amount: 1800, customer: "cus_atIntake3", status: "succeeded" }),
      T0,
    );
    const bodies = await Promise.all(Array.from({ length: 6 }, () => post(t, event)));
    assert.equal(bodies.filter((b) => b.duplicate !== true).length, 1);
    assert.deepEqual(await ledgerOf(t, "cus_atIntake3"), [["payment", 1800]]);
    const page = await t.services.webhooks.list({ limit: 10 });
    assert.deepEqual(page.data.map((e) => e.id), [event.id]);
    assert.equal(page.data[0].attempts, 1);
  });
});

Deno.test("on a file KV with a read handle, a burst of deliveries (each twice) is applied once each", async () => {
  await withIntakeApp(async (t) => {
    const stories = Array.from(
      { length: 30 },
      (_, i) => paymentStory({ customer: `cus_burst${i % 4}`, amount: 1000 + i }),
    );
    const events = stories.flatMap((s, i) => s.succeeded(T0 + i));
    const bodies = await Promise.all([...events, ...events].map((e) => post(t, e)));
    assert.equal(bodies.filter((b) => b.duplicate !== true).length, events.length);
    for (let c = 0; c < 4; c++) {
      const expected = stories.filter((_, i) => i % 4 === c).map((s) => s.amount);
      const amounts = (await ledgerOf(t, `cus_burst${c}`)).map(([, amount]) => amount);
      assert.deepEqual(amounts.sort(), expected.sort());
      const view = await t.services.customers.get(`cus_burst${c}`, { limit: 1 });
      const sum = expected.reduce((n, a) => n + a, 0);
      assert.deepEqual(view.balances, [{ currency: "usd", amount: sum, entries: expected.length }]);
    }
  }, { file: true });
});

Deno.test("a redelivery of an event applied at intake is a duplicate and writes nothing", async () => {
  await withIntakeApp(async (t) => {
    const event = stripeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({ customer: "cus_atIntake4", status: "succeeded" }),
      T0,
    );
    await post(t, event);
    const before = await kvSnapshot(t.kv);
    t.clock.advance(3 * 24 * 3600_000);
    assert.deepEqual(await post(t, event), {
      received: true,
      event_id: event.id,
      duplicate: true,
    });
    assert.deepEqual(await kvSnapshot(t.kv), before);
  });
});

Deno.test("an event type that is not processed is stored as ignored at intake, with no job", async () => {
  await withIntakeApp(async (t) => {
    const event = makeEvent("issuing_card.created", { id: "ic_456", object: "issuing.card" });
    await post(t, event);
    const stored = await t.services.webhooks.get(event.id);
    assert.equal(stored.status, "ignored");
    assert.equal(stored.attempts, 1);
    assert.match(stored.detail ?? "", /issuing_card\.created is not processed/);
    assert.equal((await getEvent(t.kv, event.id)).value?.job_id, null, "never had a job");
    assert.deepEqual(await listJobs(t.kv), []);
    const listed = await t.services.webhooks.list({ status: "ignored", limit: 10 });
    assert.deepEqual(listed.data.map((e) => e.id), [event.id]);
  });
});

Deno.test("a refund is not applied at intake: it goes to the background with a job, and its audit entries, the record and the job removal share one commit", async () => {
  await withIntakeApp(async (t) => {
    const story = paymentStory({ customer: "cus_atIntake5", amount: 2500 });
    for (const e of [story.created(T0), ...story.succeeded(T0 + 1)]) await post(t, e);
    const { created } = story.refund(T0 + 60, 500);
    assert.deepEqual(await post(t, created), { received: true, event_id: created.id });
    await t.services.webhooks.drain();

    const record = (await getEvent(t.kv, created.id)).value!;
    assert.notEqual(record.job_id, null, "stored with a webhook.process job");
    assert.equal(record.status, "processed");
    assert.equal(record.attempts, 1);
    assert.deepEqual(await listJobs(t.kv), []);
    const entries = (await auditEntries(t.kv)).filter((e) => e.request_id === created.id);
    assert.deepEqual(entries.map((e) => e.action), [
      "refund.stripe_settled",
      "refund.record_external",
    ]);
    assert.deepEqual(await ledgerOf(t, "cus_atIntake5"), [["refund", -500], ["payment", 2500]]);
    const txn = await t.services.transactions.get(story.pi);
    assert.equal(txn.amount_refunded, 500);
    assert.equal(
      await versionstampOf(t.kv, keys.webhookEvent(created.id)),
      await versionstampOf(t.kv, keys.transaction(txn.id)),
      "the settle of the event joined the commit that applied it",
    );
  });
});

Deno.test("an event that needs a read-back from Stripe is not applied at intake; the read-back runs in the background", async () => {
  // createTestApp's gateway refuses every call: the background attempt fails on it, the
  // intake never gets there (it answers 200 after storing the event and its job).
  await withIntakeApp(async (t) => {
    const story = paymentStory({ customer: "cus_atIntake6" });
    const second = T0 + 30;
    for (const e of story.failed(second)) await post(t, e);
    const retry = stripeEvent(
      "payment_intent.requires_action",
      paymentIntentObject({ id: story.pi, customer: "cus_atIntake6", status: "requires_action" }),
      second,
    );
    assert.deepEqual(await post(t, retry), { received: true, event_id: retry.id });
    await t.services.webhooks.drain();
    const stored = await t.services.webhooks.get(retry.id);
    assert.equal(stored.status, "failed");
    assert.equal(stored.attempts, 1);
    assert.match(stored.last_error ?? "", /does not expect a Stripe call/);
    const jobs = await listJobs(t.kv);
    assert.deepEqual(jobs.map((j) => [j.kind, j.payload]), [
      [WEBHOOK_PROCESS_JOB, { event_id: retry.id }],
    ]);
  });
});

Deno.test("a forced replay of an event applied at intake changes nothing and keeps it processed", async () => {
  await withIntakeApp(async (t) => {
    const event = stripeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({ amount: 900, customer: "cus_atIntake7", status: "succeeded" }),
      T0,
    );
    await post(t, event);
    const result = await t.services.webhooks.replay(systemContext("test"), event.id, {
      force: true,
    });
    assert.equal(result.replay.result, "ok");
    assert.equal(result.event.status, "processed");
    assert.equal(result.event.attempts, 2);
    assert.deepEqual(await ledgerOf(t, "cus_atIntake7"), [["payment", 900]]);
  });
});

Deno.test("the retention sweep removes everything an event applied at intake stored", async () => {
  await withIntakeApp(async (t) => {
    const event = stripeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({ customer: "cus_atIntake8", status: "succeeded" }),
      T0,
    );
    await post(t, event);
    t.clock.advance(WEBHOOK_RETENTION_MS + 1);
    assert.deepEqual(await t.services.webhooks.sweepExpired(), { deleted: 1, kept: 0 });
    const left = [...(await kvSnapshot(t.kv)).keys()].filter((k) => k.includes("webhook_event"));
    assert.deepEqual(left, []);
  });
});

Deno.test("records stored before payloads were deflated still read: inline JSON and UTF-8 chunks", async () => {
  await withIntakeApp(async (t) => {
    const json = JSON.stringify({ id: "evt_old_format", object: "event", note: "é".repeat(40) });
    const base = {
      log_id: "whe_old",
      type: "customer.updated",
      created: 1,
      livemode: false,
      api_version: null,
      received_at: 0,
      status: "processed" as const,
      attempts: 1,
      last_error: null,
      detail: null,
      processed_at: 0,
      object_id: null,
      object_type: null,
      job_id: null,
      keep_until: 0,
    };
    const utf8 = new TextEncoder().encode(json);
    const inline = {
      ...base,
      id: "evt_old_inline",
      payload_bytes: utf8.length,
      payload_chunks: 0,
      payload: json,
    };
    assert.equal(await readPayload(t.kv, inline), json);
    const chunked = {
      ...base,
      id: "evt_old_chunks",
      payload_bytes: utf8.length,
      payload_chunks: 2,
    };
    await t.kv.set([...keys.webhookEventPayloadPrefix(chunked.id), 0], utf8.slice(0, 50));
    await t.kv.set([...keys.webhookEventPayloadPrefix(chunked.id), 1], utf8.slice(50));
    assert.equal(await readPayload(t.kv, chunked), json);
  });
});

Deno.test("a payload that stays large deflated is chunked, deflated, and reads back intact", async () => {
  await withIntakeApp(async (t) => {
    // random text does not deflate much: over the inline limit and over one chunk
    const noise = Array.from({ length: 12_000 }, () => Math.random().toString(36).slice(2, 10));
    const event = stripeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({ customer: "cus_bigPayload", status: "succeeded" }),
      T0,
    );
    (event.data.object as unknown as { metadata: Record<string, string> }).metadata = {
      notes: noise.join(""),
    };
    await post(t, event);
    const record = (await getEvent(t.kv, event.id)).value!;
    assert.ok(record.payload_chunks >= 1 && record.payload_z === undefined);
    assert.equal(record.payload_encoding, "deflate-raw");
    assert.ok(record.payload_bytes > INLINE_PAYLOAD_BYTES);
    assert.equal(await readPayload(t.kv, record), JSON.stringify(event));
  });
});
