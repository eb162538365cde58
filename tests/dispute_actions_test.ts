import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";

Deno.test("actions: submit needs a draft; nothing to answer past the deadline", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    assert.deepEqual(dispute.actions, ["evidence", "accept", "notes"]);
    const saved = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada",
    });
    assert.deepEqual(saved.body.actions, ["evidence", "submit", "accept", "notes"]);
    w.clock.set(Date.parse(dispute.evidence_due_by!) + 1000);
    const late = await w.t.services.disputes.get(dispute.id);
    assert.ok(!late.actions.includes("evidence"));
    assert.ok(!late.actions.includes("submit"));
  });
});

Deno.test("actions and accept_request follow the accept's approval request", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 60_000);
    const path = `/disputes/${dispute.id}/accept`;
    const asked = await call(w, w.operator, "POST", path, { note: "not worth it" }, true);
    assert.equal(asked.status, 202);
    const waiting = await w.t.services.disputes.get(dispute.id);
    assert.ok(!waiting.actions.includes("accept"));
    assert.equal(waiting.accept_request?.status, "pending");
    const res = await w.t.app.request(
      `/api/admin/approvals/${asked.body.approval.id}/reject`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), { note: "fight it" }),
    );
    assert.equal(res.status, 200, await res.text());
    const rejected = await w.t.services.disputes.get(dispute.id);
    assert.ok(rejected.actions.includes("accept"));
    assert.equal(rejected.accept_request?.status, "rejected");
  });
});

Deno.test("sync of a dispute Stripe does not know is 404 not_found", async () => {
  await withRefundWorld(async (w) => {
    const res = await call(w, w.operator, "POST", "/disputes/sync", {
      dispute_id: "du_doesnotexist",
    });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal(res.body.code, "not_found");
  });
});
