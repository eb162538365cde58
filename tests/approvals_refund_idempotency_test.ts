/**
 * The approvals queue's approve of a refund honours an `Idempotency-Key` exactly as the
 * refund's own approve route does (README "A first session": so do capture, cancel, approve
 * (on the refund's route and the approvals queue's) answer with `Idempotent-Replayed: true`):
 * one scope, the two paths one request; a same-body replay on either carries the header, and
 * another body is 422 saying so, never "another request". The OpenAPI document declares the
 * header on the queue's route.
 */
import assert from "node:assert/strict";
import { askRefund, statusOf, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "50000" };

Deno.test("a refund approved under a key on either route replays on the other with Idempotent-Replayed", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(80000);
    const asked = await askRefund(w, pay.txnId, 75000, "goodwill");
    assert.equal(statusOf(asked), 202);
    const id = asked.refund.id;
    const body = { approval_hash: asked.refund.approval.hash! };
    const send = (path: string, key: string, b: unknown) =>
      w.t.app.request(
        path,
        jsonRequest("POST", { ...otpHeaders(w.t, w.operator2), "idempotency-key": key }, b),
      );
    const ownPath = `/api/admin/payments/refunds/${id}/approve`;
    const queuePath = `/api/admin/approvals/${id}/approve`;

    const first = await send(ownPath, "approve-1", body);
    assert.equal(first.status, 200, await first.clone().text());
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const refund = await first.json();

    const queued = await send(queuePath, "approve-1", body);
    const answer = await queued.json();
    assert.equal(queued.status, 200, JSON.stringify(answer));
    assert.equal(queued.headers.get("idempotent-replayed"), "true");
    assert.equal(answer.replayed, true);
    assert.equal(answer.outcome.id, id);
    assert.equal(answer.outcome.status, refund.status);

    // another body on the queue's path: the same request, another body (not "another request")
    const other = await send(queuePath, "approve-1", { ...body, note: "changed my mind" });
    const problem = await other.json();
    assert.equal(other.status, 422, JSON.stringify(problem));
    assert.equal(problem.code, "idempotency_key_reused");
    const said = problem.errors[0].message as string;
    assert.doesNotMatch(said, /another request than/, said);
    assert.match(said, /another body/, said);
    assert.ok(said.includes(`POST ${ownPath}`), said);
    assert.ok(said.includes(`POST ${queuePath}`), said);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  }, { env: ENV });
});

Deno.test("a refund approved under a key on the queue replays on the refund's route", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(80000);
    const asked = await askRefund(w, pay.txnId, 75000, "goodwill");
    const id = asked.refund.id;
    const body = { approval_hash: asked.refund.approval.hash! };
    const send = (path: string, b: unknown) =>
      w.t.app.request(
        path,
        jsonRequest("POST", { ...otpHeaders(w.t, w.operator2), "idempotency-key": "q-1" }, b),
      );
    const first = await send(`/api/admin/approvals/${id}/approve`, body);
    assert.equal(first.status, 200, await first.clone().text());
    assert.equal(first.headers.get("idempotent-replayed"), null);
    assert.equal((await first.json()).replayed, false);
    const again = await send(`/api/admin/payments/refunds/${id}/approve`, body);
    assert.equal(again.status, 200, await again.clone().text());
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    const other = await send(`/api/admin/payments/refunds/${id}/approve`, {
      ...body,
      note: "other",
    });
    const said = (await other.json()).errors[0].message as string;
    assert.equal(other.status, 422);
    assert.match(said, /another body/, said);
    assert.doesNotMatch(said, /another request than/, said);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  }, { env: ENV });
});

Deno.test("a refund rejected under a key on the queue replays on either path with Idempotent-Replayed", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(80000);
    const id = (await askRefund(w, pay.txnId, 75000, "goodwill")).refund.id;
    const send = (path: string, b: unknown) =>
      w.t.app.request(
        path,
        jsonRequest("POST", { ...otpHeaders(w.t, w.operator2), "idempotency-key": "r-1" }, b),
      );
    const queuePath = `/api/admin/approvals/${id}/reject`;
    const first = await send(queuePath, { note: "not ours" });
    assert.equal(first.status, 200, await first.clone().text());
    assert.equal(first.headers.get("idempotent-replayed"), null);
    for (const path of [queuePath, `/api/admin/payments/refunds/${id}/reject`]) {
      const again = await send(path, { note: "not ours" });
      assert.equal(again.status, 200, await again.clone().text());
      assert.equal(again.headers.get("idempotent-replayed"), "true", path);
    }
    const other = await send(queuePath, { note: "another reason" });
    const said = (await other.json()).errors[0].message as string;
    assert.equal(other.status, 422);
    assert.match(said, /another body/, said);
    assert.ok(said.includes(`POST /api/admin/payments/refunds/${id}/reject`), said);
  }, { env: ENV });
});

Deno.test("the OpenAPI document declares Idempotency-Key on the approvals queue's decisions", async () => {
  await withRefundWorld(async (w) => {
    const doc = await (await w.t.app.request("/openapi.json")).json();
    for (const decision of ["approve", "reject"]) {
      const op = doc.paths[`/api/admin/approvals/{id}/${decision}`].post;
      const header = (op.parameters ?? []).find((p: { in: string; name: string }) =>
        p.in === "header" && p.name === "idempotency-key"
      );
      assert.ok(header, JSON.stringify(op.parameters));
      assert.match(JSON.stringify(op.responses["422"]), /idempotency_key_reused/);
    }
  });
});
