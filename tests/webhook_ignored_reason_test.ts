/**
 * Why an event was recorded `ignored` (README, "Stripe webhooks"): its mode
 * is not the key's, its type is not processed, or the local picture already
 * showed it. The list names the reason and filters by it, so a misconfigured
 * secret stands out among the many stale events.
 */
import assert from "node:assert/strict";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { makeEvent, postEvent, withWebhookApp } from "./helpers/webhooks.ts";
import { paymentStory, T0 } from "./helpers/stripe_objects.ts";
import { keys } from "../kv/keys.ts";
import type { WebhookEventRecord } from "../domain/webhook_event.ts";

const BASE = "/api/admin/payments/webhook-events";

Deno.test("GET /webhook-events names why an event was ignored and filters by it", async () => {
  await withWebhookApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const headers = authHeaders(admin);
    const story = paymentStory({ customer: "cus_Reasons", amount: 1200 });
    const [chargeOk, piOk] = story.succeeded(T0 + 10);
    const live = { ...paymentStory({ amount: 500 }).created(T0), livemode: true };
    const unknown = makeEvent("invoice.paid", { id: "in_1Reasons", object: "invoice" });
    // older than the succeeded PaymentIntent already applied
    const stale = story.created(T0);
    const staler = story.processing(T0 + 5);
    const sent = [chargeOk, piOk, live, unknown, stale, staler];
    for (const e of sent) {
      assert.equal((await postEvent(t.app, e, { clock: t.clock })).status, 200);
      await t.services.webhooks.drain();
      t.clock.advance(1000);
    }

    const ignored = await (await t.app.request(`${BASE}?status=ignored`, { headers })).json();
    assert.deepEqual(
      ignored.data.map((e: { id: string; ignored_reason: string }) => [e.id, e.ignored_reason]),
      [
        [staler.id, "no_change"],
        [stale.id, "no_change"],
        [unknown.id, "not_processed"],
        [live.id, "livemode_mismatch"],
      ],
    );
    const processed = await (await t.app.request(`${BASE}?status=processed`, { headers })).json();
    for (const e of processed.data) assert.equal(e.ignored_reason, null);

    const mismatched = await t.app.request(`${BASE}?ignored_reason=livemode_mismatch`, { headers });
    assert.equal(mismatched.status, 200);
    assert.deepEqual((await mismatched.json()).data.map((e: { id: string }) => e.id), [live.id]);
    const both = await t.app.request(
      `${BASE}?status=ignored&ignored_reason=no_change&limit=1`,
      { headers },
    );
    const page = await both.json();
    assert.deepEqual(page.data.map((e: { id: string }) => e.id), [staler.id]);
    const rest = await (await t.app.request(
      `${BASE}?ignored_reason=no_change&limit=1&cursor=${encodeURIComponent(page.next_cursor)}`,
      { headers },
    )).json();
    assert.deepEqual(rest.data.map((e: { id: string }) => e.id), [stale.id]);
    assert.equal(rest.next_cursor, null);
    const byType = await (await t.app.request(
      `${BASE}?type=invoice.paid&ignored_reason=not_processed`,
      { headers },
    )).json();
    assert.deepEqual(byType.data.map((e: { id: string }) => e.id), [unknown.id]);

    const wrong = await t.app.request(`${BASE}?status=processed&ignored_reason=no_change`, {
      headers,
    });
    assert.equal(wrong.status, 422);
    assert.equal((await wrong.json()).errors[0].path, "query.ignored_reason");
    const bad = await t.app.request(`${BASE}?ignored_reason=bored`, { headers });
    assert.equal(bad.status, 422);
  });
});

Deno.test("an ignored record stored before reasons were kept gets its reason from its detail", async () => {
  await withWebhookApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const live = { ...paymentStory({ amount: 500 }).created(T0), livemode: true };
    await (await postEvent(t.app, live, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    const entry = await t.kv.get<WebhookEventRecord>(keys.webhookEvent(live.id));
    const { ignored_reason: _r, ...old } = entry.value as WebhookEventRecord & {
      ignored_reason?: string;
    };
    await t.kv.set(keys.webhookEvent(live.id), old);
    const res = await t.app.request(`${BASE}?ignored_reason=livemode_mismatch`, {
      headers: authHeaders(admin),
    });
    const body = await res.json();
    assert.deepEqual(
      body.data.map((e: { id: string; ignored_reason: string }) => [e.id, e.ignored_reason]),
      [[live.id, "livemode_mismatch"]],
    );
  });
});
