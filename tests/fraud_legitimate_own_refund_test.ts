/**
 * Resolving an alert `resolved_legitimate` voids its refunds awaiting approval, but a refund is
 * not withdrawn by its requester (README, "Two-person rules"): when the resolver asked for one of
 * them, or is linked to whoever did, the resolution is refused (409, naming the refunds) with
 * nothing written; another person resolves the alert or decides the refund. Resolved by someone
 * else, the refunds are voided as before.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { alertAwaitingRefund } from "./helpers/fraud_alert_refund.ts";
import { auditEntries, createAdmin, sendJson } from "./helpers/identity.ts";
import { authHeaders } from "./helpers/identity.ts";
import { addAdminLink } from "../kv/approvals.ts";

const BASE = "/api/admin/payments";

Deno.test("a requester resolving the alert legitimate is refused while their refund waits; another admin voids it", async () => {
  await withRefundWorld(async (w) => {
    const t = w.t;
    const { id, refundId } = await alertAwaitingRefund(w);

    const alertPath = `${BASE}/fraud/alerts/${id}`;
    const own = authHeaders(w.operator);
    assert.equal(
      (await sendJson(t, "PATCH", alertPath, own, { status: "investigating" })).status,
      200,
    );
    const before = await t.services.fraud.getAlert(id);
    const refused = await sendJson(t, "PATCH", alertPath, own, {
      status: "resolved_legitimate",
      note: "legit",
    });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(refused.body.detail, new RegExp(refundId));
    assert.match(refused.body.detail, /another operator or admin/);
    assert.deepEqual(refused.body.awaiting_refunds, [refundId]);
    assert.deepEqual(await t.services.fraud.getAlert(id), before, "nothing written");
    const refund = await t.services.refunds.get(refundId);
    assert.equal(refund.status, "awaiting_approval");
    assert.equal(refund.rejected_by, null);
    const entries = await auditEntries(t.kv);
    assert.ok(
      entries.some((e) =>
        e.action === "fraud_alert.update" && e.result === "denied" && e.target?.id === id
      ),
    );
    assert.ok(!entries.some((e) => e.action === "refund.void"));

    // an account linked to the requester is refused the same way
    const linked = await createAdmin(t, "analyst");
    const op = t.kv.atomic();
    addAdminLink(op, w.operator.id, linked.id, { why: "created", at: new Date().toISOString() });
    assert.ok((await op.commit()).ok);
    const byLinked = await sendJson(t, "PATCH", alertPath, authHeaders(linked), {
      status: "resolved_legitimate",
      note: "legit",
    });
    assert.equal(byLinked.status, 409, JSON.stringify(byLinked.body));
    assert.deepEqual(byLinked.body.awaiting_refunds, [refundId]);
    assert.equal((await t.services.refunds.get(refundId)).status, "awaiting_approval");

    // someone else resolves it: the refund is voided as before
    const resolved = await sendJson(t, "PATCH", alertPath, authHeaders(w.operator2), {
      status: "resolved_legitimate",
      note: "the customer confirmed the orders",
    });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    assert.deepEqual(resolved.body.voided_refunds, [refundId]);
    const voided = await t.services.refunds.get(refundId);
    assert.equal(voided.status, "rejected");
    assert.equal(voided.rejected_by, w.operator2.id);
  });
});
