/**
 * An event is processed by one thing at a time (README, "Stripe webhooks"),
 * the attempt right after intake included: a forced replay while that attempt
 * is still at Stripe (a read-back held by the emulator) is 409 naming it, so
 * the event is applied once and the record shows that one attempt's outcome.
 */
import assert from "node:assert/strict";
import { refundedChargeEvent } from "./helpers/emulator.ts";
import { createAdmin, otpHeaders } from "./helpers/identity.ts";
import {
  deliverWithReadBackHeld,
  type EmulatorAppHarness,
  withEmulatorApp,
} from "./helpers/webhooks.ts";
import { listAuditLog } from "../services/audit/query.ts";
import { INLINE_LEASE_MS } from "../services/webhooks/claims.ts";

const BASE = "/api/admin/payments/webhook-events";

async function replayAudit(h: EmulatorAppHarness) {
  const { deps, services } = h.t;
  return (await listAuditLog(deps, services.cursors, { action: "webhook.replay", limit: 100 }))
    .data;
}

Deno.test("a forced replay while the inline attempt is at Stripe is 409 naming it; the event is processed once", async () => {
  await withEmulatorApp(async (h) => {
    const { t, emu } = h;
    const admin = await createAdmin(t, "admin");
    const { event, pi } = await refundedChargeEvent(h.stripe, "held@example.com");
    const held = await deliverWithReadBackHeld(h, event);
    const listed = emu.requests.total();

    const res = await t.app.request(`${BASE}/${event.id}/replay?force=true`, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    assert.equal(res.status, 409);
    assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
    const problem = await res.json();
    assert.equal(problem.code, "conflict");
    const since = new Date(t.clock.now()).toISOString();
    assert.match(problem.detail, new RegExp(`${event.id} is being processed by its first attempt`));
    assert.match(problem.detail, new RegExp(`since ${since}`));
    assert.match(problem.detail, /GET \/api\/admin\/payments\/webhook-events\//);
    assert.equal(emu.requests.total(), listed, "the replay asked Stripe nothing");

    await held.release();
    await t.services.webhooks.drain();
    const record = await t.services.webhooks.get(event.id);
    assert.equal(record.status, "processed");
    assert.equal(record.attempts, 1, "one attempt: the inline one");
    assert.equal(record.last_error, null);
    const txn = await t.services.transactions.get(pi);
    assert.equal(txn.amount_refunded, 4200, "the refund counted once");
    const entries = await replayAudit(h);
    assert.deepEqual(entries.map((e) => e.result), ["denied"]);
    assert.equal(entries[0].actor.id, admin.id);
    assert.match(entries[0].reason ?? "", /being processed by its first attempt/);

    // once that attempt has ended, a forced replay goes ahead
    const again = await t.app.request(`${BASE}/${event.id}/replay?force=true`, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    assert.equal(again.status, 200);
    assert.equal((await again.json()).replay.result, "ok");
    assert.equal((await t.services.webhooks.get(event.id)).attempts, 2);
  }, { deliver: false });
});

Deno.test("an inline attempt that never ended (its process died) holds replays off only until its lease runs out", async () => {
  await withEmulatorApp(async (h) => {
    const { t } = h;
    const admin = await createAdmin(t, "admin");
    const { event } = await refundedChargeEvent(h.stripe, "held@example.com");
    const held = await deliverWithReadBackHeld(h, event);
    const early = await t.app.request(`${BASE}/${event.id}/replay?force=true`, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    assert.equal(early.status, 409);
    await early.body?.cancel();

    t.clock.advance(INLINE_LEASE_MS);
    const late = t.app.request(`${BASE}/${event.id}/replay?force=true`, {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    // the held attempt lands too (in this isolate the applier takes one object's work at a time)
    await new Promise((r) => setTimeout(r, 50));
    await held.release();
    const res = await late;
    assert.equal(res.status, 200, "past the lease, a replay takes over (as the retry job does)");
    assert.equal((await res.json()).event.status, "processed");
  }, { deliver: false });
});
