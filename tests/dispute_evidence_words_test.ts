/**
 * A draft as the workbench words it (README, "Dispute workbench"): every bad field
 * is named in the message itself and what to send instead, and a draft emptied of
 * every field is nothing drafted (`needs_response`), not `drafting`.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";
import { checkDraft } from "../services/disputes/evidence_rules.ts";

Deno.test("checkDraft(): a field of the wrong type is named in its message, with what to send", () => {
  const { errors } = checkDraft({
    customer_name: 123,
    receipt: "not_a_file",
    enhanced_evidence: "x",
  });
  const byPath = Object.fromEntries(errors.map((e) => [e.path, e.message]));
  assert.match(byPath["body.customer_name"], /^customer_name must be text \(a string\)/);
  assert.match(byPath["body.receipt"], /^receipt must be a file id \(file_…\)/);
  assert.match(byPath["body.enhanced_evidence"], /^enhanced_evidence must be an object/);
  assert.match(byPath["body.enhanced_evidence"], /visa_compelling_evidence_3/);
  assert.doesNotMatch(byPath["body.enhanced_evidence"], /body\./);
});

Deno.test("a draft emptied of every field is nothing drafted: phase needs_response, as before", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 4200);
    assert.equal(dispute.phase, "needs_response");
    const path = `/disputes/${dispute.id}/evidence`;
    const drafted = await call(w, w.operator, "PUT", path, { customer_name: "Ada" });
    assert.equal(drafted.body.phase, "drafting");
    const emptied = await call(w, w.operator, "PUT", path, {});
    assert.equal(emptied.status, 200, JSON.stringify(emptied.body));
    assert.equal(emptied.body.phase, "needs_response");
    assert.deepEqual(emptied.body.actions, ["evidence", "accept", "notes"]);
    const listed = await call(w, w.operator, "GET", "/disputes?phase=needs_response");
    assert.deepEqual(listed.body.data.map((d: { id: string }) => d.id), [dispute.id]);
    const again = await call(w, w.operator, "PUT", path, { customer_name: "Ada" });
    assert.equal(again.body.phase, "drafting");
  });
});

Deno.test("a draft naming a file Stripe does not know is saved unstaged, its stage_error naming the field and the fix", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 4200);
    const saved = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada",
      receipt: "file_nope123",
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.equal(saved.body.draft.staged, false);
    const error = String(saved.body.draft.stage_error);
    assert.match(error, /No such file/);
    assert.match(error, /receipt/);
    assert.match(error, /POST \/api\/admin\/payments\/disputes\/dsp_\w+\/files/);
  });
});
