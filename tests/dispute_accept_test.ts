import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, runDisputeJobs } from "./helpers/disputes.ts";
import { auditEntries, jsonRequest, otpHeaders } from "./helpers/identity.ts";

const closePath = (du: string) => `/v1/disputes/${du}/close`;

Deno.test("an approved accept whose close answer was lost stays processing and reconciliation settles it", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 60_000);
    const asked = await call(w, w.operator, "POST", `/disputes/${dispute.id}/accept`, {
      note: "not worth fighting",
    }, true);
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    w.emu.faults.inject({
      kind: "act_then_drop",
      method: "POST",
      path: closePath(dispute.stripe_dispute),
    });
    const res = await w.t.app.request(
      `/api/admin/approvals/${asked.body.approval.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), {
        approval_hash: asked.body.approval.approval_hash,
      }),
    );
    const { approval } = await res.json();
    assert.equal(res.status, 200, JSON.stringify(approval));
    assert.notEqual(approval.status, "failed");
    assert.equal(approval.result.closing, "processing");
    assert.equal((await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status, "lost");
    const pending = await w.t.services.disputes.get(dispute.id);
    assert.equal(pending.closing?.state, "processing");
    assert.deepEqual(pending.actions, ["notes"]);
    await w.dropHeld(); // the webhooks never come
    w.clock.advance(61_000);
    await runDisputeJobs(w);
    const settled = await w.t.services.disputes.get(dispute.id);
    assert.equal(settled.status, "lost");
    assert.equal(settled.closing?.state, "closed");
    assert.deepEqual(await runDisputeJobs(w), { ran: 0, failed: 0, dead: 0 });
    const actions = (await auditEntries(w.t.kv)).map((e) => e.action);
    assert.ok(!actions.includes("dispute.accept_failed"));
    assert.equal(actions.filter((a) => a === "dispute.accept_settled").length, 1);
  });
});

Deno.test("a direct accept with an unknown outcome answers 202 processing; the webhook settles it", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await w.deliver();
    w.emu.faults.inject({
      kind: "act_then_drop",
      method: "POST",
      path: closePath(dispute.stripe_dispute),
    });
    const path = `/disputes/${dispute.id}/accept`;
    const sent = await call(w, w.operator, "POST", path, { note: "fraud confirmed" }, true);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.approval, null);
    assert.equal(sent.body.dispute.closing.state, "processing");
    const again = await call(w, w.operator2, "POST", path, { note: "again" }, true);
    assert.equal(again.status, 409);
    await w.deliver();
    const settled = await w.t.services.disputes.get(dispute.id);
    assert.equal(settled.status, "lost");
    assert.equal(settled.closing?.state, "closed");
    assert.equal(settled.closing?.job, null);
    w.clock.advance(61_000);
    assert.deepEqual(await runDisputeJobs(w), { ran: 0, failed: 0, dead: 0 });
  });
});

Deno.test("a close Stripe refuses frees the dispute and is recorded as failed", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    // closed at Stripe behind the app's back, webhooks lost: Stripe refuses a second close
    await w.stripe.disputes.close(dispute.stripe_dispute);
    await w.dropHeld();
    const path = `/disputes/${dispute.id}/accept`;
    const refused = await call(w, w.operator, "POST", path, { note: "too late" }, true);
    assert.equal(refused.status, 502, JSON.stringify(refused.body));
    const after = await w.t.services.disputes.get(dispute.id);
    assert.equal(after.closing?.state, "failed");
    assert.equal(after.closing?.job, null);
    const actions = (await auditEntries(w.t.kv)).map((e) => e.action);
    assert.ok(actions.includes("dispute.accept_failed"));
  });
});

Deno.test("accept with the same Idempotency-Key and body replays the first answer", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const send = (key: string, note: string) =>
      w.t.app.request(
        `/api/admin/payments/disputes/${dispute.id}/accept`,
        jsonRequest("POST", { ...otpHeaders(w.t, w.operator), "idempotency-key": key }, { note }),
      );
    const first = await send("accept-1", "fraud confirmed");
    const firstBody = await first.json();
    assert.equal(first.status, 200, JSON.stringify(firstBody));
    assert.equal(firstBody.status, "lost");
    const again = await send("accept-1", "fraud confirmed");
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), firstBody);
    const other = await send("accept-1", "another note");
    assert.equal(other.status, 422);
    assert.equal((await other.json()).code, "idempotency_key_reused");
    const fresh = await send("accept-2", "fraud confirmed");
    assert.equal(fresh.status, 409);
    await fresh.body?.cancel();
    const accepts = (await auditEntries(w.t.kv)).filter((e) => e.action === "dispute.accept");
    assert.equal(accepts.length, 1);
  });
});
