/**
 * Refunds in the approvals queue read as an approver needs them (the amount in
 * the currency's major units, the requester's note), and the queue's own routes
 * behave as documented for them: approving (or rejecting) again what you
 * decided answers `replayed: true`; a refund's rejection needs a note there too.
 */
import assert from "node:assert/strict";
import { askRefund, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { formatMoney } from "../domain/money.ts";
import type { ApprovalRequest } from "../domain/approval.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };

Deno.test("formatMoney() shows major units with the currency's decimals", () => {
  assert.equal(formatMoney(1, "usd"), "0.01 USD");
  assert.equal(formatMoney(120000, "usd"), "1,200.00 USD");
  assert.equal(formatMoney(90000, "jpy"), "90,000 JPY");
  assert.equal(formatMoney(1230, "kwd"), "1.230 KWD");
  assert.equal(formatMoney(5, "kwd"), "0.005 KWD");
  assert.equal(formatMoney(0, "eur"), "0.00 EUR");
});

Deno.test("a refund in the queue shows its amount in major units and the requester's note", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(8000);
    const asked = await askRefund(w, pay.txnId, 6000, "item came back broken");
    const queue = await w.t.services.approvals.list({ status: "pending", limit: 25 });
    const entry = queue.data.find((r: ApprovalRequest) => r.id === asked.refund.id);
    assert.equal(
      entry?.summary,
      `refund 60.00 USD on ${pay.txnId} (threshold: 60.00 USD, at or above 50.00 USD)`,
    );
    assert.equal(entry?.payload.note, "item came back broken");
    assert.equal(entry?.payload.amount, 6000);
  }, { env: ENV });
});

Deno.test("approving or rejecting a refund again through /approvals answers replayed: true", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const a = await askRefund(w, pay.txnId, 6000, "one");
    const b = await askRefund(w, pay.txnId, 7000, "two");
    const send = (id: string, decision: string, body: unknown, by = w.operator2) =>
      w.t.app.request(
        `/api/admin/approvals/${id}/${decision}`,
        jsonRequest("POST", otpHeaders(w.t, by), body),
      );
    const body = { approval_hash: a.refund.approval.hash };
    const first = await send(a.refund.id, "approve", body);
    assert.equal(first.status, 200);
    assert.equal((await first.json()).replayed, false);
    const again = await send(a.refund.id, "approve", body);
    const replay = await again.json();
    assert.equal(again.status, 200, JSON.stringify(replay));
    assert.equal(replay.replayed, true);
    assert.equal(replay.outcome.status, "succeeded");
    assert.equal(replay.outcome.approved_by, w.operator2.id);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
    // someone else's decision is still a conflict
    assert.equal((await send(a.refund.id, "approve", body, w.admin)).status, 409);
    // a different decision than the one made is a conflict too
    assert.equal((await send(a.refund.id, "reject", { note: "no" })).status, 409);

    assert.equal((await send(b.refund.id, "reject", { note: "not eligible" })).status, 200);
    const rejectedAgain = await send(b.refund.id, "reject", { note: "not eligible" });
    assert.equal(rejectedAgain.status, 200);
    const r = await rejectedAgain.json();
    assert.equal(r.replayed, true);
    assert.equal(r.outcome.status, "rejected");
  }, { env: ENV });
});

Deno.test("rejecting a refund through /approvals needs a note, as its own route and the document say", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(8000);
    const asked = await askRefund(w, pay.txnId, 6000, "one");
    const res = await w.t.app.request(
      `/api/admin/approvals/${asked.refund.id}/reject`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), {}),
    );
    assert.equal(res.status, 422);
    const problem = await res.json();
    assert.equal(problem.errors[0].path, "body.note");
    // in the words of the refund's own route (README "API": errors name the field)
    assert.match(problem.errors[0].message, /^note is required/);
    const doc = await (await w.t.app.request("/openapi.json")).json();
    const op = doc.paths["/api/admin/approvals/{id}/reject"].post;
    assert.match(op.description, /refund \(`rfd_…`\) needs a `note`/);
  }, { env: ENV });
});

Deno.test("GET /approvals/{rfd_…} reads a refund the queue lists, waiting or decided", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const a = await askRefund(w, pay.txnId, 6000, "one");
    const get = async (id: string) => {
      const res = await w.t.app.request(`/api/admin/approvals/${id}`, {
        headers: { authorization: `Bearer ${w.operator2.token}` },
      });
      return { status: res.status, body: await res.json() };
    };
    const waiting = await get(a.refund.id);
    assert.equal(waiting.status, 200, JSON.stringify(waiting.body));
    assert.equal(waiting.body.status, "pending");
    assert.equal(waiting.body.kind, "refund.approve");
    assert.equal(waiting.body.approval_hash, a.refund.approval.hash);
    const approved = await w.t.app.request(
      `/api/admin/approvals/${a.refund.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), { approval_hash: a.refund.approval.hash }),
    );
    assert.equal(approved.status, 200);
    await approved.body?.cancel();
    const done = await get(a.refund.id);
    assert.equal(done.body.status, "executed");
    assert.equal(done.body.decided_by, w.operator2.id);
    assert.equal((await get("rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R")).status, 404);
    assert.equal((await get("rfd_nope")).status, 422); // cut short: the form, not a 404
  }, { env: ENV });
});
