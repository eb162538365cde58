/**
 * Deciding again a refund you already decided gets the same answer on both
 * routes that decide it (README, "Two-person rules": approving again what you
 * approved answers that decision, replayed): through the approvals queue
 * (`replayed: true`) and through `POST /refunds/{id}/approve` / `reject`
 * (the refund as it stands, `Idempotent-Replayed: true`). Nothing is sent to
 * Stripe again and no `denied` entry is written; a decision someone else made
 * is still a 409, audited denied.
 */
import assert from "node:assert/strict";
import { approvalOf, askRefund, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { auditEntries, jsonRequest, otpHeaders } from "./helpers/identity.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };

Deno.test("attack: approving again a refund you approved answers 200 replayed on the refund's own route, as in the queue", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const asked = await askRefund(w, pay.txnId, 6000, "one");
    const id = asked.refund.id;
    const body = { approval_hash: asked.refund.approval.hash };
    const own = (by = w.operator2) =>
      w.t.app.request(`/api/admin/payments/refunds/${id}/approve`, {
        ...jsonRequest("POST", otpHeaders(w.t, by), body),
      });
    const queue = () =>
      w.t.app.request(
        `/api/admin/approvals/${id}/approve`,
        jsonRequest("POST", otpHeaders(w.t, w.operator2), body),
      );
    const first = await own();
    assert.equal(first.status, 200, await first.clone().text());
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const deniedBefore = (await auditEntries(w.t.kv)).filter((e) => e.result === "denied").length;

    const again = await own();
    const replay = await again.json();
    assert.equal(again.status, 200, JSON.stringify(replay));
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.id, id);
    assert.equal(replay.status, "succeeded");
    assert.equal(replay.approved_by, w.operator2.id);

    const viaQueue = await queue();
    const q = await viaQueue.json();
    assert.equal(viaQueue.status, 200, JSON.stringify(q));
    assert.equal(q.replayed, true);

    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1, "sent once");
    const denied = (await auditEntries(w.t.kv)).filter((e) => e.result === "denied");
    assert.equal(denied.length, deniedBefore, "a replay is no refusal");

    // somebody else's decision is still refused, and audited
    const other = await own(w.admin);
    assert.equal(other.status, 409);
    const after = (await auditEntries(w.t.kv)).filter((e) => e.result === "denied");
    assert.deepEqual(after.slice(deniedBefore).map((e) => [e.action, e.actor.id]), [
      ["refund.approve", w.admin.id],
    ]);
  }, { env: ENV });
});

Deno.test("attack: rejecting again a refund you rejected answers 200 replayed on the refund's own route, as in the queue", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const asked = await askRefund(w, pay.txnId, 6000, "one");
    const id = asked.refund.id;
    const reject = (path: string, by = w.operator2) =>
      w.t.app.request(path, jsonRequest("POST", otpHeaders(w.t, by), { note: "not eligible" }));
    const own = `/api/admin/payments/refunds/${id}/reject`;
    const first = await reject(own);
    assert.equal(first.status, 200, await first.clone().text());
    const again = await reject(own);
    const replay = await again.json();
    assert.equal(again.status, 200, JSON.stringify(replay));
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.status, "rejected");
    assert.equal(replay.rejected_by, w.operator2.id);
    const viaQueue = await reject(`/api/admin/approvals/${id}/reject`);
    assert.equal(viaQueue.status, 200);
    assert.equal((await viaQueue.json()).replayed, true);
    // approving what you rejected is another decision: refused
    const approve = await w.t.app.request(
      `/api/admin/payments/refunds/${id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), await approvalOf(w.t, id)),
    );
    assert.equal(approve.status, 409);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
  }, { env: ENV });
});

Deno.test("the document says what deciding a refund again answers, on both routes", async () => {
  await withRefundWorld(async (w) => {
    const doc = await (await w.t.app.request("/openapi.json")).json();
    for (const decision of ["approve", "reject"]) {
      const op = doc.paths[`/api/admin/payments/refunds/{id}/${decision}`].post;
      assert.match(String(op.description), /again/, decision);
      assert.match(String(op.description), /Idempotent-Replayed: true/, decision);
    }
  }, { env: ENV });
});
