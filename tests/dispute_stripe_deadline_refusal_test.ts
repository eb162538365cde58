/**
 * README, "Dispute workbench", Deadlines: Stripe's word counts. When Stripe
 * refuses a stage or a submission because its deadline has passed (its clock
 * ahead of this service's, its `past_due` webhook not arrived yet), the dispute
 * is read back and recorded past due as a sync would: no `submit` offered, and a
 * submit is the workbench's 409 naming the deadline, never Stripe's refusal as 502.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, submitAs } from "./helpers/disputes.ts";

const DAY = 86_400;

Deno.test("a stage Stripe refuses for its deadline records the dispute past due; submit is then 409, nothing sent", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    const first = await call(w, w.operator, "PUT", path, { customer_name: "Ada" });
    assert.equal(first.body.draft.staged, true);
    w.emu.advanceClock(8 * DAY); // Stripe's clock only; its webhooks stay held
    const saved = await call(w, w.operator, "PUT", path, { customer_name: "Ada Lovelace" });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.equal(saved.body.draft.staged, false);
    assert.match(saved.body.draft.stage_error, /deadline/);
    assert.equal(saved.body.past_due, true, "Stripe's word is recorded");
    assert.ok(!saved.body.actions.includes("submit"), JSON.stringify(saved.body.actions));
    const shown = await call(w, w.operator, "GET", `/disputes/${dispute.id}`);
    assert.equal(shown.body.past_due, true);
    assert.ok(!shown.body.actions.includes("submit"));
    const calls = w.emu.requests.total();
    const submit = await submitAs(w, w.operator, dispute.id);
    assert.equal(submit.status, 409, JSON.stringify(submit.body));
    assert.match(submit.body.detail, /deadline/);
    assert.equal(w.emu.requests.total(), calls, "nothing was sent to Stripe");
  });
});

Deno.test("a submission Stripe refuses for its deadline is 409 naming it, not 502, and the dispute is past due", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const saved = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada",
    });
    assert.equal(saved.body.draft.staged, true);
    w.emu.advanceClock(8 * DAY);
    const submit = await submitAs(w, w.operator, dispute.id);
    assert.equal(submit.status, 409, JSON.stringify(submit.body));
    assert.equal(submit.body.code, "conflict");
    assert.match(submit.body.detail, /deadline/);
    const shown = await call(w, w.operator, "GET", `/disputes/${dispute.id}`);
    assert.equal(shown.body.past_due, true);
    assert.equal(shown.body.submission.state, "failed");
    assert.deepEqual(shown.body.actions, ["accept", "notes"]);
  });
});
