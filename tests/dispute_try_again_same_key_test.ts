/**
 * An accept or a submission answered 503 `stripe_unavailable` (Stripe asked to
 * try again before acting: nothing happened there) is sent again with the SAME
 * `Idempotency-Key`, as the 503 says to: the key's claim was let go, and the
 * request runs afresh, closing or submitting at Stripe. It is never answered
 * 200 with the dispute as it stood (still open, its close or submission
 * `failed`), which would tell the client it was done. Found by the fault
 * suite's random seeds (`FAULT_SEED=745907306`, dispute accepts).
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment } from "./helpers/disputes.ts";
import { jsonRequest, otpHeaders, type TestAdmin } from "./helpers/identity.ts";
import type { RefundWorld } from "./helpers/refunds.ts";

async function keyed(w: RefundWorld, admin: TestAdmin, path: string, key: string, body?: unknown) {
  const headers = { ...otpHeaders(w.t, admin), "idempotency-key": key };
  const res = await w.t.app.request(`${API}${path}`, jsonRequest("POST", headers, body));
  return { status: res.status, body: await res.json() };
}

Deno.test("an accept answered 503 and sent again with the same key closes the dispute at Stripe", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = /^\/v1\/disputes\/du_[^/]+\/close$/;
    w.emu.faults.inject({ kind: "lock_timeout", method: "POST", path, times: 3 });
    const body = { note: "not worth fighting" };
    const first = await keyed(w, w.operator, `/disputes/${dispute.id}/accept`, "acc-1", body);
    assert.equal(first.status, 503, JSON.stringify(first.body));
    assert.equal((await w.t.services.disputes.get(dispute.id)).closing?.state, "failed");
    w.clock.advance(31_000); // a fresh TOTP period
    const again = await keyed(w, w.operator, `/disputes/${dispute.id}/accept`, "acc-1", body);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.closing?.state, "closed", JSON.stringify(again.body.closing));
    assert.equal((await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status, "lost");
    // and the key now answers that close
    w.clock.advance(31_000);
    const replay = await keyed(w, w.operator, `/disputes/${dispute.id}/accept`, "acc-1", body);
    assert.equal(replay.status, 200);
    assert.equal(replay.body.closing?.state, "closed");
  });
});

Deno.test("a submission answered 503 and sent again with the same key is submitted at Stripe", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const evidence = { customer_name: "Ada Lovelace", product_description: "Concert ticket" };
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, evidence);
    await w.deliver();
    const path = `/v1/disputes/${dispute.stripe_dispute}`;
    w.emu.faults.inject({ kind: "lock_timeout", method: "POST", path, times: 3 });
    const first = await keyed(w, w.operator, `/disputes/${dispute.id}/submit`, "sub-1");
    assert.equal(first.status, 503, JSON.stringify(first.body));
    assert.equal((await w.t.services.disputes.get(dispute.id)).submission?.state, "failed");
    w.clock.advance(31_000);
    const again = await keyed(w, w.operator, `/disputes/${dispute.id}/submit`, "sub-1");
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.submission?.state, "submitted", JSON.stringify(again.body.submission));
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 1);
  });
});

Deno.test("an accept asking a second person, replayed with its key after an earlier approved close failed, is that request waiting (202), never 200", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 60_000);
    const body = { note: "not worth fighting" };
    const asked = await keyed(w, w.operator, `/disputes/${dispute.id}/accept`, "acc-a", body);
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    // approved, its close refused by Stripe's lock: the close failed, the dispute still open
    const path = /^\/v1\/disputes\/du_[^/]+\/close$/;
    w.emu.faults.inject({ kind: "lock_timeout", method: "POST", path, times: 3 });
    const approved = await w.t.app.request(
      `/api/admin/approvals/${asked.body.approval.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), {
        approval_hash: asked.body.approval.approval_hash,
      }),
    );
    await approved.body?.cancel();
    assert.equal((await w.t.services.disputes.get(dispute.id)).closing?.state, "failed");
    // asked again (another key): a new request waits; its key sent again answers that one
    w.clock.advance(31_000);
    const again = await keyed(w, w.operator, `/disputes/${dispute.id}/accept`, "acc-b", body);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    w.clock.advance(31_000);
    const replay = await keyed(w, w.operator, `/disputes/${dispute.id}/accept`, "acc-b", body);
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    assert.equal(replay.body.approval?.id, again.body.approval.id);
    assert.equal(replay.body.approval?.status, "pending");
    // the first key: its request was approved and its close failed; the accept as it stands is
    // the request now waiting, never a 200
    w.clock.advance(31_000);
    const first = await keyed(w, w.operator, `/disputes/${dispute.id}/accept`, "acc-a", body);
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.body.approval?.id, again.body.approval.id);
  });
});
