import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, submitAs, uploadPng } from "./helpers/disputes.ts";
import { auditEntries, createAdmin } from "./helpers/identity.ts";

const EVIDENCE = { customer_name: "Ada Lovelace", product_description: "Concert ticket" };

Deno.test("while an accept's close is in flight, submit, evidence saves and uploads are 409", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const evidence = `/disputes/${dispute.id}/evidence`;
    assert.equal((await call(w, support, "PUT", evidence, EVIDENCE)).status, 200);
    // Stripe's answer to the close is lost: the close stays `processing`
    w.emu.faults.inject({
      kind: "server_error",
      method: "POST",
      path: `/v1/disputes/${dispute.stripe_dispute}/close`,
      times: 50,
    });
    const path = `/disputes/${dispute.id}/accept`;
    const accepted = await call(w, w.operator, "POST", path, { note: "fraud confirmed" }, true);
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal(accepted.body.dispute.closing.state, "processing");
    assert.deepEqual(accepted.body.dispute.actions, ["notes"]);

    const submitted = await submitAs(w, w.operator2, dispute.id);
    assert.equal(submitted.status, 409, JSON.stringify(submitted.body));
    assert.match(submitted.body.detail, /being closed at Stripe/);
    assert.match(submitted.body.detail, /reconciliation/);
    const saved = await call(w, support, "PUT", evidence, { customer_name: "Ada" });
    assert.equal(saved.status, 409, JSON.stringify(saved.body));
    assert.match(saved.body.detail, /being closed at Stripe/);
    const uploaded = await uploadPng(w, support, dispute.id);
    assert.equal(uploaded.status, 409, JSON.stringify(uploaded.body));
    assert.match(uploaded.body.detail, /being closed at Stripe/);

    // nothing reached Stripe: no submission, no file
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 0);
    assert.equal((await w.stripe.files.list()).data.length, 0);
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.submission, null);
    assert.deepEqual(shown.evidence, EVIDENCE);
    assert.deepEqual(shown.actions, ["notes"]);
  });
});

Deno.test("an empty draft is not offered for submit, and submitting it is 422: nothing is spent", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const evidence = `/disputes/${dispute.id}/evidence`;
    for (const body of [{}, { customer_name: "", uncategorized_text: "  " }]) {
      const saved = await call(w, w.operator, "PUT", evidence, body);
      assert.equal(saved.status, 200, JSON.stringify(saved.body));
      // `{}` is nothing drafted (README, "Dispute workbench", Phases); blanks are a draft
      assert.equal(saved.body.phase, Object.keys(body).length ? "drafting" : "needs_response");
      assert.deepEqual(saved.body.actions, ["evidence", "accept", "notes"]);
      const refused = await submitAs(w, w.operator, dispute.id);
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.equal(refused.body.code, "validation_failed");
      assert.equal(refused.body.errors[0].path, "draft");
      assert.match(refused.body.errors[0].message, /no evidence/);
      assert.match(refused.body.errors[0].message, /add evidence .* first/);
    }
    // an empty Visa CE 3.0 block is no evidence either
    const block = { enhanced_evidence: { visa_compelling_evidence_3: {} } };
    assert.equal((await call(w, w.operator, "PUT", evidence, block)).status, 200);
    assert.equal((await submitAs(w, w.operator, dispute.id)).status, 422);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 0);
    assert.equal(atStripe.status, "needs_response");
    // with evidence in it, the round is still there to use
    const filled = await call(w, w.operator, "PUT", evidence, { customer_name: "Ada" });
    assert.deepEqual(filled.body.actions, ["evidence", "submit", "accept", "notes"]);
    const done = await submitAs(w, w.operator, dispute.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.submission_count, 1);
  });
});

Deno.test("a draft holding only a file can be submitted", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const uploaded = await uploadPng(w, support, dispute.id);
    assert.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
    // the support agent who uploaded it may not submit; an operator is offered it
    assert.deepEqual(uploaded.body.actions, ["evidence", "notes"]);
    const seen = await call(w, w.operator, "GET", `/disputes/${dispute.id}`);
    assert.ok(seen.body.actions.includes("submit"));
    const done = await submitAs(w, w.operator, dispute.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
  });
});

Deno.test("past evidence_due_by, draft saves and uploads are 409 naming the deadline; nothing is uploaded", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const evidence = `/disputes/${dispute.id}/evidence`;
    assert.equal((await call(w, support, "PUT", evidence, EVIDENCE)).status, 200);
    w.clock.set(Date.parse(dispute.evidence_due_by!) + 1000);
    const saved = await call(w, support, "PUT", evidence, { customer_name: "late" });
    assert.equal(saved.status, 409, JSON.stringify(saved.body));
    assert.match(saved.body.detail, /deadline passed/);
    assert.ok(saved.body.detail.includes(dispute.evidence_due_by!), saved.body.detail);
    const uploaded = await uploadPng(w, support, dispute.id);
    assert.equal(uploaded.status, 409, JSON.stringify(uploaded.body));
    assert.ok(uploaded.body.detail.includes(dispute.evidence_due_by!), uploaded.body.detail);
    assert.equal((await w.stripe.files.list()).data.length, 0);
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.deepEqual(shown.evidence, EVIDENCE);
    assert.equal(shown.draft?.version, 1);
  });
});

/** The audit entries of refused dispute actions, as [action, who, reason]. */
async function denials(w: Parameters<Parameters<typeof withRefundWorld>[0]>[0], id: string) {
  return (await auditEntries(w.t.kv))
    .filter((e) => e.target?.id === id && e.result === "denied")
    .map((e) => [e.action, e.actor.id, e.reason ?? ""] as const);
}

Deno.test("refused submits, evidence saves and uploads are audited denied with the reason", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const evidence = `/disputes/${dispute.id}/evidence`;
    assert.equal((await call(w, support, "PUT", evidence, {})).status, 200);
    assert.equal((await submitAs(w, w.operator, dispute.id)).status, 422);
    assert.equal((await call(w, support, "PUT", evidence, EVIDENCE)).status, 200);
    assert.equal((await submitAs(w, w.operator, dispute.id)).status, 200);
    assert.equal((await submitAs(w, w.operator2, dispute.id)).status, 409);
    assert.equal((await call(w, support, "PUT", evidence, EVIDENCE)).status, 409);
    assert.equal((await uploadPng(w, support, dispute.id)).status, 409);
    const denied = await denials(w, dispute.id);
    assert.deepEqual(denied.map(([action, by]) => [action, by]), [
      ["dispute.submit", w.operator.id],
      ["dispute.submit", w.operator2.id],
      ["dispute.evidence_saved", support.id],
      ["dispute.file_uploaded", support.id],
    ]);
    assert.match(denied[0][2], /holds no evidence/);
    assert.match(denied[1][2], /already submitted in this round/);
    assert.match(denied[2][2], /can no longer be changed/);
    assert.match(denied[3][2], /can no longer be changed/);
  });
});

Deno.test("refused accepts are audited denied: closed already, a request waiting, past the deadline", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/accept`;
    assert.equal((await call(w, w.operator, "POST", path, { note: "lost" }, true)).status, 200);
    assert.equal((await call(w, w.operator2, "POST", path, { note: "again" }, true)).status, 409);
    const [closed] = await denials(w, dispute.id);
    assert.deepEqual(closed.slice(0, 2), ["dispute.accept", w.operator2.id]);
    assert.match(closed[2], /already closed/);

    const big = (await disputedPayment(w, 60_000)).dispute;
    const bigPath = `/disputes/${big.id}/accept`;
    const asked = await call(w, w.operator, "POST", bigPath, { note: "not worth it" }, true);
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    assert.equal((await call(w, w.operator2, "POST", bigPath, { note: "x" }, true)).status, 409);
    const [waiting] = await denials(w, big.id);
    assert.deepEqual(waiting.slice(0, 2), ["dispute.accept", w.operator2.id]);
    assert.ok(waiting[2].includes(asked.body.approval.id), waiting[2]);

    const late = (await disputedPayment(w)).dispute;
    await call(w, w.operator, "PUT", `/disputes/${late.id}/evidence`, EVIDENCE);
    w.clock.set(Date.parse(late.evidence_due_by!) + 1000);
    assert.equal((await submitAs(w, w.operator, late.id)).status, 409);
    const [pastDue] = await denials(w, late.id);
    assert.equal(pastDue[0], "dispute.submit");
    assert.match(pastDue[2], /deadline passed/);
  });
});

Deno.test("submitting a dispute with no draft at all is the empty draft's 422, audited denied", async () => {
  await withRefundWorld(async (w) => {
    // README (Dispute workbench): 422 for a draft holding no evidence; a dispute nobody drafted
    // holds none either, and nothing makes it a conflict with the dispute's state
    const { dispute } = await disputedPayment(w);
    const submitted = await submitAs(w, w.operator, dispute.id);
    assert.equal(submitted.status, 422, JSON.stringify(submitted.body));
    assert.equal(submitted.body.code, "validation_failed");
    assert.equal(submitted.body.errors[0].path, "draft");
    assert.match(submitted.body.detail, /holds no evidence/);
    assert.match(
      submitted.body.detail,
      new RegExp(`PUT /api/admin/payments/disputes/${dispute.id}/evidence`),
    );
    const denied = await denials(w, dispute.id);
    assert.deepEqual(denied.map(([action, by]) => [action, by]), [
      ["dispute.submit", w.operator.id],
    ]);
    assert.match(denied[0][2], /holds no evidence/);
  });
});

Deno.test("an accept while a submission is in flight is 409 naming who submitted, when, and what settles it", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    // Stripe's answer to the submission is lost: it stays `processing`
    w.emu.faults.inject({
      kind: "server_error",
      method: "POST",
      path: `/v1/disputes/${dispute.stripe_dispute}`,
      times: 50,
    });
    const submitted = await submitAs(w, w.operator, dispute.id);
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const at = submitted.body.submission.requested_at;
    const path = `/disputes/${dispute.id}/accept`;
    const theirs = await call(w, w.operator2, "POST", path, { note: "not worth it" }, true);
    assert.equal(theirs.status, 409, JSON.stringify(theirs.body));
    const detail: string = theirs.body.detail;
    assert.ok(detail.includes(`submitted by ${w.operator.id} at ${at}`), detail);
    assert.match(detail, /Stripe's answer, its webhook or reconciliation settles it/);
    assert.match(detail, /try again after/);
    const mine = await call(w, w.operator, "POST", path, { note: "not worth it" }, true);
    assert.equal(mine.status, 409);
    assert.ok(mine.body.detail.includes(`by you (${w.operator.id}) at ${at}`), mine.body.detail);
  });
});
