/**
 * What the webhook event record tells an operator after an attempt that failed
 * once the event was processed (README, "Stripe webhooks"): the record stays
 * `processed` with `last_error` null, so it never reads as a failed event; a
 * failed replay shows in `last_replay` (who, when, the error), and its own
 * answer and its audit entry carry the error.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { authHeaders, createAdmin, otpHeaders } from "./helpers/identity.ts";
import { type EmulatorAppHarness, postEvent, withEmulatorApp } from "./helpers/webhooks.ts";
import { stripeEvent } from "./helpers/stripe_objects.ts";
import { listAuditLog } from "../services/audit/query.ts";

const BASE = "/api/admin/payments/webhook-events";

/**
 * A processed `charge.refunded` whose replay asks Stripe again: its refund was
 * pending when the event was processed (the read-back found it), then failed,
 * so the charge's stale `amount_refunded` names refunds the service no longer counts.
 */
async function processedChargeRefunded(h: EmulatorAppHarness): Promise<Stripe.Event> {
  const { t, stripe, emu } = h;
  const customer = await stripe.customers.create({ email: "record@example.com" });
  const pi = await stripe.paymentIntents.create({
    amount: 4200,
    currency: "usd",
    customer: customer.id,
    payment_method: "pm_card_refundFail",
    confirm: true,
  });
  const refund = await stripe.refunds.create({ payment_intent: pi.id });
  assert.equal(refund.status, "pending");
  const charge = await stripe.charges.retrieve(pi.latest_charge as string);
  assert.equal(charge.amount_refunded, 4200);
  const { refunds: _listed, ...bare } = charge; // only the read-back tells the refund
  const event = stripeEvent("charge.refunded", bare as Stripe.Charge, charge.created + 5);
  await (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
  await t.services.webhooks.drain();
  const failed = emu.settleRefund(refund.id, "failed") as unknown as Stripe.Refund;
  const bounced = stripeEvent("refund.failed", failed, charge.created + 10);
  await (await postEvent(t.app, bounced, { clock: t.clock })).body?.cancel();
  await t.services.webhooks.drain();
  assert.equal((await t.services.webhooks.get(bounced.id)).status, "processed");
  return event;
}

Deno.test("a forced replay that fails on a processed event leaves it processed with no last_error; last_replay, the answer and the audit entry carry the error", async () => {
  await withEmulatorApp(async (h) => {
    const { t, emu } = h;
    const admin = await createAdmin(t, "admin");
    const event = await processedChargeRefunded(h);
    const processed = await t.services.webhooks.get(event.id);
    assert.equal(processed.status, "processed");
    assert.equal(processed.last_error, null);
    assert.equal(processed.last_replay, null);

    // Stripe's read-back fails while the admin forces a replay
    const broken = emu.faults.inject({
      kind: "server_error",
      method: "GET",
      path: "/v1/refunds",
      times: Infinity,
    });
    const sentAt = new Date(t.clock.now()).toISOString();
    const res = await t.app.request(`${BASE}/${event.id}/replay?force=true`, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    broken.remove();
    assert.equal(res.status, 200);
    const answer = await res.json();
    assert.equal(answer.replay.result, "failed");
    assert.ok(answer.replay.error, "the answer carries the replay's error");
    assert.equal(answer.event.status, "processed");
    assert.equal(answer.event.last_error, null, "a processed event shows no last_error");
    assert.equal(answer.event.attempts, 2, "the failed replay is counted");

    const shown = await t.app.request(`${BASE}/${event.id}`, { headers: authHeaders(admin) });
    assert.equal(shown.status, 200);
    const record = await shown.json();
    assert.equal(record.status, "processed");
    assert.equal(record.last_error, null);
    assert.equal(record.attempts, 2);
    assert.equal(record.detail, processed.detail, "what processing did stays shown");
    assert.equal(record.processed_at, processed.processed_at);
    assert.ok(record.last_replay.at >= sentAt);
    assert.deepEqual({ ...record.last_replay, at: null }, {
      by: admin.id,
      at: null,
      force: true,
      result: "failed",
      error: answer.replay.error,
    });

    const entries = (await listAuditLog(t.deps, t.services.cursors, {
      action: "webhook.replay",
      limit: 10,
    })).data;
    assert.deepEqual(entries.map((e) => [e.actor.id, e.result]), [[admin.id, "failed"]]);
    assert.equal(entries[0].reason, answer.replay.error);
    assert.deepEqual(entries[0].after, {
      status: "processed",
      attempts: 2,
      detail: processed.detail,
      error: answer.replay.error,
    });

    // the failed replay did not process it: a refusal does not say it did
    const other = await createAdmin(t, "admin");
    for (const path of ["replay", "dismiss"]) {
      const refused = await t.app.request(`${BASE}/${event.id}/${path}`, {
        method: "POST",
        headers: { ...otpHeaders(t, other), "content-type": "application/json" },
        body: path === "dismiss" ? JSON.stringify({ note: "looks failed" }) : undefined,
      });
      assert.equal(refused.status, 409, path);
      const problem = await refused.json();
      assert.match(problem.detail, /is processed/);
      assert.doesNotMatch(problem.detail, /replayed by/, path);
    }

    // once Stripe answers again, a forced replay processes it and says so
    const again = await t.app.request(`${BASE}/${event.id}/replay?force=true`, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    const ok = await again.json();
    assert.equal(ok.replay.result, "ok");
    assert.equal(ok.event.last_error, null);
    assert.equal(ok.event.last_replay.result, "ok");
    assert.equal(ok.event.last_replay.error, null);
    assert.equal(ok.event.attempts, 3);
  }, { deliver: false, emulator: { refundFailureDelayMs: null } });
});
