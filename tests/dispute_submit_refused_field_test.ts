/**
 * A draft Stripe refused to stage on one field (a file id it does not know) is not offered
 * for submit, and submit refuses it with 422 naming the field and the fix, before anything
 * is sent to Stripe (README "Dispute workbench", What Stripe holds).
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, submitAs, uploadPng } from "./helpers/disputes.ts";

Deno.test("submit of a draft naming a file Stripe does not know is 422 on that field, nothing sent", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    const saved = await call(w, w.operator, "PUT", path, {
      customer_name: "Ada",
      receipt: "file_nope123",
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.equal(saved.body.draft.staged, false);
    assert.equal(saved.body.draft.stage_error_field, "receipt");
    assert.ok(!saved.body.actions.includes("submit"), JSON.stringify(saved.body.actions));
    const listed = await call(w, w.operator, "GET", "/disputes");
    const row = listed.body.data.find((d: { id: string }) => d.id === dispute.id);
    assert.ok(!row.actions.includes("submit"));

    const res = await submitAs(w, w.operator, dispute.id);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, "validation_failed");
    assert.equal(res.body.errors[0].path, "evidence.receipt");
    assert.match(
      res.body.errors[0].message,
      /POST \/api\/admin\/payments\/disputes\/dsp_\w+\/files/,
    );
    assert.match(res.body.errors[0].message, /remove receipt/);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 0);
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.submission, null);
    assert.equal(shown.phase, "drafting");

    // uploading the file into that field mends the draft: submit goes through
    const png = await uploadPng(w, w.operator, dispute.id);
    assert.equal(png.status, 201, JSON.stringify(png.body));
    const fixed = await call(w, w.operator, "PUT", path, {
      customer_name: "Ada",
      receipt: png.body.evidence.uncategorized_file,
    });
    assert.equal(fixed.body.draft.staged, true, JSON.stringify(fixed.body.draft));
    assert.equal(fixed.body.draft.stage_error_field, null);
    assert.ok(fixed.body.actions.includes("submit"));
    const done = await submitAs(w, w.operator, dispute.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
  });
});
