import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";
import { createAdmin } from "./helpers/identity.ts";

Deno.test("a pm_card_createDispute payment becomes a dispute record via its webhooks", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txnId, dispute } = await disputedPayment(w);
    assert.equal(dispute.status, "needs_response");
    assert.equal(dispute.phase, "needs_response");
    assert.equal(dispute.reason, "fraudulent");
    assert.equal(dispute.amount, 4200);
    assert.equal(dispute.transaction_id, txnId);
    assert.equal(dispute.funds_withdrawn, 4200);
    assert.equal(dispute.fee, 1500);
    assert.equal(dispute.is_charge_refundable, false);
    assert.equal(dispute.submission_count, 0);
    assert.ok(dispute.time_left_s! > 6 * 86400);
    assert.deepEqual(dispute.actions, ["evidence", "submit", "accept", "notes"]);
    const txn = await w.t.services.transactions.get(pi.id);
    assert.equal(txn.amount_disputed, 4200);
    const viewer = await createAdmin(w.t, "viewer");
    const listed = await call(w, viewer, "GET", "/disputes");
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.data.map((d: { id: string }) => d.id), [dispute.id]);
  });
});
