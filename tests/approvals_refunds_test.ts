/**
 * Attack: one admin creates an operator account and approves their own large
 * refund with it. Refunds awaiting approval wait in the one queue, and an
 * account linked to the requester cannot approve them (either route).
 */
import assert from "node:assert/strict";
import { askRefund, statusOf, withRefundWorld } from "./helpers/refunds.ts";
import { auditEntries, jsonRequest, otpHeaders, type TestAdmin } from "./helpers/identity.ts";
import { responseChecker } from "./helpers/response_schema.ts";
import type { ApprovalRequest } from "../domain/approval.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "50000" };

Deno.test("approvals queue: a refund awaiting approval is listed and refused to an account the requester created", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(80000);
    const res = await askRefund(w, pay.txnId, 75000, "goodwill");
    assert.equal(statusOf(res), 202);
    const queue = await w.t.services.approvals.list({ status: "pending", limit: 25 });
    const listed = queue.data.find((r: ApprovalRequest) => r.id === res.refund.id);
    assert.equal(listed?.kind, "refund.approve");
    assert.equal(listed?.approval_hash, res.refund.approval.hash);

    // the requester's sock puppet: an operator the requester's side created
    const made = await w.t.services.identity.createAdmin(
      { ...w.ctx(w.operator), actor: { type: "admin", id: w.operator.id, role: "admin" } },
      { email: "puppet@example.com", role: "operator" },
    );
    const puppet = { id: made.admin.id, role: "operator" } as TestAdmin;
    // the puppet read the refund, and approves what it read
    const read = { approval_hash: res.refund.approval.hash! };
    for (
      const attempt of [
        () => w.t.services.refunds.approve(w.ctx(puppet), res.refund.id, read),
        () => w.t.services.approvals.approve(w.ctx(puppet), res.refund.id, read),
      ]
    ) {
      const e = await attempt().then(() => null, (e) => e);
      assert.equal(e?.code, "self_approval_forbidden");
    }
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "awaiting_approval");

    // a stale approval_hash is refused AND audited
    const stale = await w.t.services.refunds.approve(w.ctx(w.operator2), res.refund.id, {
      approval_hash: "f".repeat(64),
    }).then(() => null, (e) => e);
    assert.equal(stale?.code, "conflict");
    const denied = (await auditEntries(w.t.kv)).filter((e) =>
      e.action === "refund.approve" && e.result === "denied"
    );
    assert.equal(denied.length, 3);
    assert.match(denied[2].reason ?? "", /stale approval_hash/);

    // an unlinked operator approves through the queue
    const ok = await w.t.services.approvals.approve(w.ctx(w.operator2), res.refund.id, {
      approval_hash: res.refund.approval.hash!,
    });
    assert.equal((ok.outcome as { approved_by: string }).approved_by, w.operator2.id);
  }, { env: ENV });
});

Deno.test("approvals queue: a refund Stripe refuses on approval answers 409 charge_not_refundable, as the document declares", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(80000);
    const res = await askRefund(w, pay.txnId, 75000, "goodwill");
    assert.equal(statusOf(res), 202);
    // Refunded in the Dashboard meanwhile; its webhooks have not arrived.
    await w.stripe.refunds.create({ payment_intent: pay.pi.id });
    const answer = await w.t.app.request(
      `/api/admin/approvals/${res.refund.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), {
        approval_hash: res.refund.approval.hash,
      }),
    );
    const body = await answer.json();
    assert.equal(answer.status, 409, JSON.stringify(body));
    assert.equal(body.code, "charge_not_refundable");
    assert.equal(body.stripe.code, "charge_already_refunded");
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "failed");
    const doc = await (await w.t.app.request("/openapi.json")).json();
    responseChecker(doc).check(
      "post",
      "/api/admin/approvals/{id}/approve",
      409,
      "application/problem+json",
      body,
      "approve through the queue",
    );
    // and Stripe's other answers a refund can get here
    const declared = doc.paths["/api/admin/approvals/{id}/approve"].post.responses;
    assert.match(declared["409"].description, /`charge_not_refundable`/);
    assert.match(declared["502"].description, /`stripe_error`/);
    assert.match(declared["503"].description, /`stripe_unavailable`/);
  }, { env: ENV });
});
