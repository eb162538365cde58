/**
 * An approval_hash that is not the refund's (mistyped, another refund's) is
 * said to be that, on `body.approval_hash`: the refund did not change, so "not
 * what was requested" would send the approver looking for a change that never
 * happened. The refusal never names the refund's hash: the approver "reads the
 * refund and approves exactly what they read, by its approval.hash" (README, "A
 * first session"), so it sends them to read the refund again instead.
 */
import assert from "node:assert/strict";
import { askRefund, statusOf, withRefundWorld } from "./helpers/refunds.ts";
import { auditEntries, jsonRequest, otpHeaders } from "./helpers/identity.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };

Deno.test("a wrong approval_hash on an unchanged refund names body.approval_hash, never the current hash", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const asked = await askRefund(w, pay.txnId, 6000, "goodwill");
    const other = await askRefund(w, pay.txnId, 7000, "another one");
    assert.equal(statusOf(asked), 202);
    const current = asked.refund.approval.hash!;
    // on the refund's own route and in the approvals queue alike
    const routes = [
      `/api/admin/payments/refunds/${asked.refund.id}/approve`,
      `/api/admin/approvals/${asked.refund.id}/approve`,
    ];
    for (const route of routes) {
      for (const sent of ["0".repeat(64), other.refund.approval.hash!]) {
        const res = await w.t.app.request(
          route,
          jsonRequest("POST", otpHeaders(w.t, w.operator2), { approval_hash: sent }),
        );
        const text = await res.text();
        assert.equal(res.status, 409, text);
        // the refund's hash appears nowhere in the answer: sending it back would approve unread
        assert.ok(!text.includes(current), `the refusal names the current hash: ${text}`);
        assert.ok(!text.includes(current.slice(0, 8)), text);
        const problem = JSON.parse(text);
        assert.equal(problem.code, "conflict");
        assert.match(problem.detail, new RegExp(`approval_hash you sent \\(${sent}\\)`));
        assert.match(problem.detail, /read .* again/);
        assert.match(
          problem.detail,
          new RegExp(`GET /api/admin/payments/refunds/${asked.refund.id}`),
        );
        assert.match(problem.detail, /nothing was approved/);
        assert.doesNotMatch(problem.detail, /not what was requested/);
        assert.equal(problem.errors?.[0]?.path, "body.approval_hash");
        assert.ok(!("approval_hash" in problem), text);
      }
    }
    assert.equal((await w.t.services.refunds.get(asked.refund.id)).status, "awaiting_approval");
    const denied = (await auditEntries(w.t.kv)).filter((e) =>
      e.action === "refund.approve" && e.result === "denied"
    );
    assert.equal(denied.length, 4);
    assert.match(denied[0].reason ?? "", /approval_hash sent is not the refund's current hash/);
    // the hash the approver reads (GET) approves it
    const ok = await w.t.services.refunds.approve(w.ctx(w.operator2), asked.refund.id, {
      approval_hash: current,
    });
    assert.equal(ok.refund.status, "succeeded");
  }, { env: ENV });
});
