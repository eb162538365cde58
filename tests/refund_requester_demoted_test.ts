/**
 * A refund awaiting approval dies with its requester's permission to refund:
 * an operator demoted (to viewer, support, …) after asking can no longer have
 * it sent by an approver who does not know (README, "Refund approval policy").
 */
import assert from "node:assert/strict";
import { askRefund, statusOf, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { auditEntries, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };

for (const [route, role] of [["refunds", "viewer"], ["approvals", "support"]] as const) {
  Deno.test(`a demoted (${role}) requester's refund is refused at approval through /${route}: expired, released, audited`, async () => {
    await withRefundWorld(async (w) => {
      const pay = await w.pay(8000);
      const asked = await askRefund(w, pay.txnId, 5000, "goodwill");
      assert.equal(statusOf(asked), 202);
      await w.t.services.identity.updateAdmin(systemContext("test"), w.operator.id, { role });
      const path = route === "refunds"
        ? `/api/admin/payments/refunds/${asked.refund.id}/approve`
        : `/api/admin/approvals/${asked.refund.id}/approve`;
      const res = await w.t.app.request(
        path,
        jsonRequest("POST", otpHeaders(w.t, w.operator2), {
          approval_hash: asked.refund.approval.hash,
        }),
      );
      const problem = await res.json();
      assert.equal(res.status, 409, JSON.stringify(problem));
      assert.equal(problem.code, "conflict");
      assert.equal(problem.refund_status, "expired");
      assert.match(problem.detail, new RegExp(`${w.operator.id} is now ${role}`));
      assert.match(problem.detail, /may no longer ask for refunds/);
      assert.match(problem.detail, /expired and its reservation released/);

      const refund = await w.t.services.refunds.get(asked.refund.id);
      assert.equal(refund.status, "expired");
      assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
      assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);

      const audit = (await auditEntries(w.t.kv)).filter((e) => e.target?.id === asked.refund.id);
      const denied = audit.find((e) => e.action === "refund.approve" && e.result === "denied");
      assert.equal(denied?.actor.id, w.operator2.id);
      assert.match(denied?.reason ?? "", new RegExp(`is now ${role}`));
      const expired = audit.find((e) => e.action === "refund.expire");
      assert.match(expired?.reason ?? "", /void: .*may no longer ask for refunds/);
    }, { env: ENV });
  });
}

Deno.test("a requester still allowed to refund (operator -> admin) keeps their refund approvable", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(8000);
    const asked = await askRefund(w, pay.txnId, 5000, "goodwill");
    await w.t.services.identity.updateAdmin(systemContext("test"), w.operator.id, {
      role: "admin",
    });
    const approved = await w.t.services.refunds.approve(w.ctx(w.operator2), asked.refund.id, {
      approval_hash: asked.refund.approval.hash!,
    });
    assert.equal(approved.refund.status, "succeeded");
  }, { env: ENV });
});
