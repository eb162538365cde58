/**
 * Stripe redelivers: a parallel burst holding several copies of each event
 * must still store each event once (README, "Stripe webhooks": "stored once
 * per `event.id`", "sent again (same `id`) it is acknowledged and not applied
 * twice", `attempts` "counts … every processing attempt once"), whichever
 * commit path the copies take (the intake batch, the ignore-at-intake batch,
 * the group commit of plain ingestion, the settle batch).
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, type TestAdmin } from "./helpers/identity.ts";
import { customerEvent, postEvent, WEBHOOK_ENV, withWebhookApp } from "./helpers/webhooks.ts";
import { paymentStory, stripeEvent, T0 } from "./helpers/stripe_objects.ts";
import { keys } from "../kv/keys.ts";
import { listJobs } from "../kv/jobs.ts";

const BASE = "/api/admin/payments/webhook-events";

/** A fixed shuffle (mulberry32), so a failure shows the same order again. */
function shuffled<T>(items: T[], seed: number): T[] {
  let a = seed;
  const rand = () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Every copy of every event, shuffled, all POSTed at once behind `lead` (one
 * copy of an event of its own): the first delivery commits alone and every
 * copy arriving while it is in flight queues for the next commit, as a burst
 * over the network does. Answers the bodies.
 */
async function burst(
  t: TestApp,
  lead: Stripe.Event,
  events: Stripe.Event[],
  copies: number,
  seed: number,
) {
  const all = [
    lead,
    ...shuffled(events.flatMap((e) => Array.from({ length: copies }, () => e)), seed),
  ];
  const responses = await Promise.all(all.map((e) => postEvent(t.app, e, { clock: t.clock })));
  assert.deepEqual(responses.map((r) => r.status), all.map(() => 200));
  const bodies = await Promise.all(responses.map((r) => r.json()));
  await t.services.webhooks.drain();
  return bodies as { event_id: string; duplicate?: true }[];
}

async function walk(t: TestApp, admin: TestAdmin, query: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const after: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const res = await t.app.request(`${BASE}?limit=7${query}${after}`, {
      headers: authHeaders(admin),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const page = await res.json();
    ids.push(...page.data.map((e: { id: string }) => e.id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

async function indexRows(kv: Deno.Kv, prefix: Deno.KvKey): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of kv.list<string>({ prefix })) ids.push(e.value);
  return ids;
}

const sorted = (ids: string[]) => [...ids].sort();

/**
 * Each event once in every listing and index, in the status list of its own
 * status only, with `attempts` as processed (`attemptsOf`).
 */
async function assertStoredOnce(
  t: TestApp,
  events: Stripe.Event[],
  attemptsOf: (status: string, reason: string | null) => number,
) {
  const admin = await createAdmin(t, "admin");
  const ids = sorted(events.map((e) => e.id));
  assert.deepEqual(sorted(await walk(t, admin, "")), ids, "GET /webhook-events");
  assert.deepEqual(
    sorted(await indexRows(t.kv, keys.webhookEventsByArrivalPrefix())),
    ids,
    "the arrival index",
  );
  const types = [...new Set(events.map((e) => e.type))];
  const byType: string[] = [];
  for (const type of types) {
    const listed = await walk(t, admin, `&type=${type}`);
    assert.deepEqual(
      sorted(listed),
      sorted(events.filter((e) => e.type === type).map((e) => e.id)),
      `?type=${type}`,
    );
    byType.push(...(await indexRows(t.kv, keys.webhookEventsByTypePrefix(type))));
  }
  assert.deepEqual(sorted(byType), ids, "the type index");
  const statusOf = new Map<string, string>();
  for (const e of events) {
    const res = await t.app.request(`${BASE}/${e.id}`, { headers: authHeaders(admin) });
    assert.equal(res.status, 200);
    const view = await res.json();
    statusOf.set(e.id, view.status);
    assert.equal(
      view.attempts,
      attemptsOf(view.status, view.ignored_reason),
      `attempts of ${e.type} (${view.status})`,
    );
  }
  for (const status of ["received", "processed", "failed", "dead", "ignored"]) {
    const expected = sorted(ids.filter((id) => statusOf.get(id) === status));
    assert.deepEqual(sorted(await walk(t, admin, `&status=${status}`)), expected, `?${status}`);
    if (status === "processed") continue; // walked from the arrival index, not indexed
    assert.deepEqual(
      sorted(await indexRows(t.kv, keys.webhookEventsByStatusPrefix(status))),
      expected,
      `the ${status} index`,
    );
  }
  assert.deepEqual(await listJobs(t.kv), [], "no job left");
}

Deno.test("a burst of three copies each of nine events (the job path) stores, lists and processes each once", async () => {
  await withWebhookApp(async (t, applier) => {
    const events = Array.from(
      { length: 9 },
      (_, i) => customerEvent(i % 3 === 0 ? "customer.updated" : "customer.created"),
    );
    const lead = customerEvent();
    const bodies = await burst(t, lead, events, 3, 1);
    assert.equal(bodies.filter((b) => b.duplicate !== true).length, events.length + 1);
    const all = [lead, ...events];
    assert.deepEqual(sorted(applier.calls), sorted(all.map((e) => e.id)), "applied once each");
    await assertStoredOnce(t, all, (status) => status === "processed" ? 1 : -1);
  });
});

Deno.test("a burst of copies through the real applier (intake, ignored, job paths) stores and lists each event once", async () => {
  const t = await createTestApp({ env: WEBHOOK_ENV, file: true });
  try {
    const story = paymentStory({ customer: "cus_burstOnce", amount: 3100 });
    const refund = story.refund(T0 + 30, 1000);
    const events: Stripe.Event[] = [
      story.created(T0),
      ...story.succeeded(T0 + 10),
      refund.created,
      refund.chargeRefunded,
      customerEvent("customer.created", { id: "cus_burstOnce" }),
      // a type not processed: recorded ignored in the intake batch
      stripeEvent("issuing_card.created", { id: "ic_burst1", object: "issuing.card" } as never, T0),
      // another mode: ignored at intake
      { ...customerEvent(), livemode: true } as Stripe.Event,
      customerEvent("customer.updated", { id: "cus_burstOnce", name: "Ada" }),
    ];
    assert.equal(events.length, 9);
    // ignored at intake: straight into the intake batch, ahead of the others
    const lead = { ...customerEvent(), livemode: true } as Stripe.Event;
    const bodies = await burst(t, lead, events, 3, 7);
    assert.equal(bodies.filter((b) => b.duplicate !== true).length, events.length + 1);
    await assertStoredOnce(
      t,
      [lead, ...events],
      (status, reason) => status === "processed" || reason !== "livemode_mismatch" ? 1 : 0,
    );
    const view = await t.services.customers.get("cus_burstOnce", { limit: 10 });
    assert.deepEqual(view.ledger.data.map((e) => [e.type, e.amount]).sort(), [
      ["payment", 3100],
      ["refund", -1000],
    ]);
  } finally {
    await t.services.webhooks.drain();
    await t.close();
  }
});
