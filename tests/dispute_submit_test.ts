import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, runDisputeJobs, submitAs } from "./helpers/disputes.ts";
import { auditEntries, createAdmin, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { API } from "./helpers/disputes.ts";

const EVIDENCE = { customer_name: "Ada Lovelace", product_description: "Concert ticket" };

Deno.test("saving a draft stages it at Stripe with submit=false and never submits", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const saved = await call(w, support, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.equal(saved.body.phase, "drafting");
    assert.equal(saved.body.draft.staged, true);
    assert.deepEqual(saved.body.evidence, EVIDENCE);
    assert.equal(saved.body.evidence_budget.remaining, 150_000 - 12 - 14);
    assert.ok(
      saved.body.checklist.some((i: { field: string; provided: boolean }) =>
        i.field === "customer_name" && i.provided
      ),
    );
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.status, "needs_response");
    assert.equal(atStripe.evidence_details.submission_count, 0);
    assert.equal(atStripe.evidence.customer_name, "Ada Lovelace");
    // the audit entry names the fields and a hash, never the text
    const entry = (await auditEntries(w.t.kv)).find((e) => e.action === "dispute.evidence_saved")!;
    const after = entry.after as { fields_changed: string[]; hash: string };
    assert.deepEqual(after.fields_changed, ["customer_name", "product_description"]);
    assert.match(after.hash, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(entry).includes("Lovelace"));
    // a field left out of the next PUT is removed here and at Stripe
    await call(w, support, "PUT", `/disputes/${dispute.id}/evidence`, { customer_name: "Ada" });
    const again = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(again.evidence.product_description, null);
    assert.equal(again.evidence_details.submission_count, 0);
  });
});

Deno.test("submit: refused without 2FA, done once with it, refused the second time", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    const bare = await call(w, w.operator, "POST", `/disputes/${dispute.id}/submit`);
    assert.equal(bare.status, 401);
    assert.equal(bare.body.code, "otp_required");
    const support = await createAdmin(w.t, "support");
    const denied = await submitAs(w, support, dispute.id);
    assert.equal(denied.status, 403);
    const done = await submitAs(w, w.operator, dispute.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.phase, "submitted");
    assert.equal(done.body.status, "under_review");
    assert.equal(done.body.submission.state, "submitted");
    assert.equal(done.body.submission_count, 1);
    const second = await submitAs(w, w.operator2, dispute.id);
    assert.equal(second.status, 409);
    assert.match(second.body.detail, /already submitted in this round/);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 1);
    // the webhooks arriving afterwards change nothing
    await w.deliver();
    const after = await w.t.services.disputes.get(dispute.id);
    assert.equal(after.submission_count, 1);
    assert.equal(after.phase, "submitted");
  });
});

Deno.test("N concurrent submits end in exactly one submission at Stripe", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    const admins = [w.operator, w.operator2, w.admin];
    for (let i = 0; i < 5; i++) admins.push(await createAdmin(w.t, "operator"));
    const requests = admins.map((a) => ({ a, h: otpHeaders(w.t, a) }));
    const results = await Promise.all(
      requests.map(({ h }) =>
        w.t.app.request(`${API}/disputes/${dispute.id}/submit`, jsonRequest("POST", h))
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    await Promise.all(results.map((r) => r.body?.cancel()));
    assert.deepEqual(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 1);
    const submits = (await auditEntries(w.t.kv)).filter((e) => e.action === "dispute.submit");
    assert.equal(submits.filter((e) => e.result === "ok").length, 1);
    // the losers were refused, and each refusal is audited
    const denied = submits.filter((e) => e.result === "denied");
    assert.equal(denied.length, 7);
    assert.ok(denied.every((e) => /already submitted in this round/.test(e.reason ?? "")));
  });
});

Deno.test("submit is refused after evidence_due_by, and a dispute past due is marked overdue", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    w.clock.set(Date.parse(dispute.evidence_due_by!) + 1000);
    const late = await submitAs(w, w.operator, dispute.id);
    assert.equal(late.status, 409);
    assert.match(late.body.detail, /deadline passed/);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 0);
    assert.deepEqual(await w.t.services.disputes.remind(), { reminded: 0, overdue: 1 });
    assert.equal((await w.t.services.disputes.get(dispute.id)).overdue, true);
    assert.deepEqual(await w.t.services.disputes.remind(), { reminded: 0, overdue: 0 });
  });
});

Deno.test("accept closes the dispute as lost at Stripe (note and 2FA required)", async () => {
  await withRefundWorld(async (w) => {
    const { pi, dispute } = await disputedPayment(w);
    const noNote = await call(w, w.operator, "POST", `/disputes/${dispute.id}/accept`, {}, true);
    assert.equal(noNote.status, 422);
    assert.equal(noNote.body.errors[0].path, "body.note");
    const done = await call(
      w,
      w.operator,
      "POST",
      `/disputes/${dispute.id}/accept`,
      { note: "customer's bank confirmed fraud" },
      true,
    );
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.status, "lost");
    assert.equal(done.body.phase, "lost");
    assert.equal((await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status, "lost");
    const again = await call(w, w.operator, "POST", `/disputes/${dispute.id}/accept`, {
      note: "twice",
    }, true);
    assert.equal(again.status, 409);
    await w.deliver();
    const txn = await w.t.services.transactions.get(pi.id);
    assert.equal(txn.amount_disputed, 4200);
    assert.equal(txn.dispute_status, "lost");
  });
});

Deno.test("accept at or above the threshold waits in the approvals queue for a second person", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 60_000);
    const path = `/disputes/${dispute.id}/accept`;
    const asked = await call(w, w.operator, "POST", path, { note: "not worth fighting" }, true);
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    assert.equal(asked.body.approval.kind, "dispute.accept");
    assert.equal(asked.body.approval.status, "pending");
    assert.equal(asked.body.dispute.accept_request.approval_id, asked.body.approval.id);
    assert.equal(
      (await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status,
      "needs_response",
    );
    // asking again, by anyone, does not open a second request
    const again = await call(w, w.operator2, "POST", path, { note: "again" }, true);
    assert.equal(again.status, 409);
    // a request that expired unanswered no longer holds the dispute
    w.clock.set(Date.parse(asked.body.approval.expires_at) + 1000);
    const fresh = await call(w, w.operator, "POST", path, { note: "asking again" }, true);
    assert.equal(fresh.status, 202, JSON.stringify(fresh.body));
    assert.notEqual(fresh.body.approval.id, asked.body.approval.id);
    asked.body = fresh.body;
    const approve = `/approvals/${asked.body.approval.id}/approve`;
    const body = { approval_hash: asked.body.approval.approval_hash };
    const self = await w.t.app.request(
      `/api/admin${approve}`,
      jsonRequest("POST", otpHeaders(w.t, w.operator), body),
    );
    assert.equal(self.status, 403);
    await self.body?.cancel();
    assert.equal(
      (await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status,
      "needs_response",
    );
    const ok = await w.t.app.request(
      `/api/admin${approve}`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), body),
    );
    assert.equal(ok.status, 200, await ok.text());
    assert.equal((await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status, "lost");
    const closed = await w.t.services.disputes.get(dispute.id);
    assert.equal(closed.phase, "lost");
    assert.deepEqual(closed.history.slice(-4).map((h) => [h.action, h.by]), [
      ["accept_requested", w.operator.id],
      ["accept_requested", w.operator.id],
      ["accept", w.operator2.id],
      ["stripe_update", "stripe"],
    ]);
  });
});

Deno.test("a submission whose answer was lost after Stripe acted is settled by reconciliation, once", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    await w.deliver();
    w.emu.faults.inject({
      kind: "act_then_drop",
      method: "POST",
      path: `/v1/disputes/${dispute.stripe_dispute}`,
    });
    const sent = await submitAs(w, w.operator, dispute.id);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.submission.state, "processing");
    assert.equal(sent.body.phase, "submitted");
    const again = await submitAs(w, w.operator2, dispute.id);
    assert.equal(again.status, 409);
    await w.dropHeld(); // the webhooks never come
    w.clock.advance(61_000);
    await runDisputeJobs(w);
    const settled = await w.t.services.disputes.get(dispute.id);
    assert.equal(settled.submission!.state, "submitted");
    assert.equal(settled.submission_count, 1);
    assert.equal(settled.status, "under_review");
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 1);
    assert.deepEqual(await runDisputeJobs(w), { ran: 0, failed: 0, dead: 0 });
    // the second submit was refused (audited denied); one submission was made
    const actions = (await auditEntries(w.t.kv)).map((e) => `${e.action} ${e.result}`);
    assert.equal(actions.filter((a) => a === "dispute.submit ok").length, 1);
    assert.equal(actions.filter((a) => a === "dispute.submit denied").length, 1);
    assert.equal(actions.filter((a) => a === "dispute.submission_settled ok").length, 1);
  });
});
