/**
 * A dispute submission whose answer was lost may have gone in at Stripe: when
 * reconciliation's send with the same key is answered 429 (`rate_limit`,
 * `lock_timeout`), that says nothing about the first send, so the submission
 * stays `processing` and the round is not freed (README "Dispute workbench").
 * A first send answered 429 did nothing: the round is freed and the answer is
 * 503 `stripe_unavailable`.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, runDisputeJobs, submitAs } from "./helpers/disputes.ts";
import { auditEntries } from "./helpers/identity.ts";

const EVIDENCE = { customer_name: "Ada Lovelace", product_description: "Concert ticket" };

Deno.test("a submission with an unknown outcome meets a 429 on reconciliation's send: still processing, then settled once", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    await w.deliver();
    const path = `/v1/disputes/${dispute.stripe_dispute}`;
    // a 500: Stripe may or may not have taken it
    w.emu.faults.inject({ kind: "server_error", method: "POST", path });
    const sent = await submitAs(w, w.operator, dispute.id);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    w.emu.faults.inject({ kind: "rate_limit", method: "POST", path, times: 3 });
    w.clock.advance(61_000);
    await runDisputeJobs(w);
    const waiting = await w.t.services.disputes.get(dispute.id);
    assert.equal(
      waiting.submission!.state,
      "processing",
      `a 429 frees nothing: ${JSON.stringify(waiting.submission)}`,
    );
    w.clock.advance(120_000);
    await runDisputeJobs(w);
    const settled = await w.t.services.disputes.get(dispute.id);
    assert.equal(settled.submission!.state, "submitted");
    assert.equal(settled.submission_count, 1);
    const actions = (await auditEntries(w.t.kv)).map((e) => `${e.action} ${e.result}`);
    assert.equal(actions.filter((a) => a.startsWith("dispute.submit_failed")).length, 0);
    assert.equal(
      (await w.stripe.disputes.retrieve(dispute.stripe_dispute)).evidence_details
        .submission_count,
      1,
    );
  });
});

Deno.test("a first submission answered 429 frees the round: 503, then submitted", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    await w.deliver();
    const path = `/v1/disputes/${dispute.stripe_dispute}`;
    w.emu.faults.inject({ kind: "lock_timeout", method: "POST", path, times: 3 });
    const sent = await submitAs(w, w.operator, dispute.id);
    assert.equal(sent.status, 503, JSON.stringify(sent.body));
    assert.equal(sent.body.code, "stripe_unavailable");
    assert.equal((await w.t.services.disputes.get(dispute.id)).submission!.state, "failed");
    w.clock.advance(31_000); // a fresh TOTP period
    const again = await submitAs(w, w.operator, dispute.id);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.submission.state, "submitted");
  });
});
