/**
 * A refund awaiting approval dies with its requester's permission to refund:
 * an operator demoted (to viewer, support, …) after asking can no longer have
 * it sent by an approver who does not know (README, "Refund approval policy").
 */
import assert from "node:assert/strict";
import { askRefund, statusOf, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import {
  auditEntries,
  authHeaders,
  jsonRequest,
  otpHeaders,
  patchUser,
} from "./helpers/identity.ts";
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
      // named for what happened: a demotion, not a disable (an auditor filters by actor)
      assert.equal(expired?.actor.id, "refunds:requester_demoted");
      assert.equal(refund.history.at(-1)?.by, "refunds:requester_demoted");
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

Deno.test("a requester demoted by PATCH: the void at approval names the demotion (refunds:requester_demoted), found by the actor filter", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(8000);
    const asked = await askRefund(w, pay.txnId, 5000, "goodwill");
    w.clock.advance(1000);
    const demoted = await patchUser(w.t, w.admin, w.operator.id, { role: "viewer" });
    assert.equal(demoted.status, 200, await demoted.text());
    const res = await w.t.app.request(
      `/api/admin/payments/refunds/${asked.refund.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), {
        approval_hash: asked.refund.approval.hash,
      }),
    );
    const problem = await res.json();
    assert.equal(res.status, 409, JSON.stringify(problem));
    assert.equal(problem.requester_demoted, true);
    assert.equal(problem.refund_status, "expired");
    const refund = await w.t.services.refunds.get(asked.refund.id);
    assert.equal(refund.history.at(-1)?.by, "refunds:requester_demoted");
    const listed = await w.t.app.request(
      "/api/admin/payments/audit-log?actor=refunds:requester_demoted",
      { headers: authHeaders(w.admin) },
    );
    const page = await listed.json();
    assert.equal(listed.status, 200, JSON.stringify(page));
    assert.deepEqual(
      page.data.map((e: { action: string; target: { id: string } }) => [e.action, e.target.id]),
      [["refund.expire", asked.refund.id]],
    );
    const disabled = await w.t.app.request(
      "/api/admin/payments/audit-log?actor=refunds:requester_disabled",
      { headers: authHeaders(w.admin) },
    );
    assert.equal((await disabled.json()).data.length, 0);
  }, { env: ENV });
});

Deno.test("a disabled requester's refunds are still ended by refunds:requester_disabled", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(8000);
    const asked = await askRefund(w, pay.txnId, 5000, "goodwill");
    const res = await patchUser(w.t, w.admin, w.operator.id, { status: "disabled" });
    assert.equal(res.status, 200, await res.text());
    const refund = await w.t.services.refunds.get(asked.refund.id);
    assert.equal(refund.status, "expired");
    assert.equal(refund.history.at(-1)?.by, "refunds:requester_disabled");
    const audit = (await auditEntries(w.t.kv)).filter((e) => e.target?.id === asked.refund.id);
    const expired = audit.find((e) => e.action === "refund.expire");
    assert.equal(expired?.actor.id, "refunds:requester_disabled");
  }, { env: ENV });
});
