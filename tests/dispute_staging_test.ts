import assert from "node:assert/strict";
import type Stripe from "stripe";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, submitAs } from "./helpers/disputes.ts";
import { EVIDENCE_FILE_FIELDS, EVIDENCE_TEXT_FIELDS } from "../domain/dispute_evidence.ts";

/** Stripe's classic evidence fields that hold something. */
function heldAtStripe(d: Stripe.Dispute): Record<string, unknown> {
  const e = d.evidence as unknown as Record<string, unknown>;
  return Object.fromEntries(
    [...EVIDENCE_TEXT_FIELDS, ...EVIDENCE_FILE_FIELDS]
      .filter((f) => e[f] !== null && e[f] !== undefined && e[f] !== "")
      .map((f) => [f, e[f]]),
  );
}

Deno.test("staging after a refused stage blanks every field not in the draft; submit sends exactly the draft", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    const first = await call(w, w.operator, "PUT", path, {
      customer_name: "Ada",
      product_description: "Concert ticket",
    });
    assert.equal(first.body.draft.staged, true);
    const refused = await call(w, w.operator, "PUT", path, { receipt: "file_doesnotexist" });
    assert.equal(refused.status, 200);
    assert.equal(refused.body.draft.staged, false);
    const jane = await call(w, w.operator, "PUT", path, { customer_name: "Jane" });
    assert.equal(jane.body.draft.staged, true);
    const staged = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.deepEqual(heldAtStripe(staged), { customer_name: "Jane" });
    const done = await submitAs(w, w.operator, dispute.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const submitted = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(submitted.evidence_details.submission_count, 1);
    assert.deepEqual(heldAtStripe(submitted), { customer_name: "Jane" });
  });
});

Deno.test("submit sends the whole draft with the rest blanked, even when the last stage never reached Stripe", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    await call(w, w.operator, "PUT", path, {
      customer_name: "Ada",
      product_description: "Concert ticket",
      enhanced_evidence: { visa_compliance: { fee_acknowledged: true } },
    });
    const down = w.emu.faults.inject({
      kind: "server_error",
      method: "POST",
      path: `/v1/disputes/${dispute.stripe_dispute}`,
      times: Infinity,
    });
    const unstaged = await call(w, w.operator, "PUT", path, { customer_name: "Jane" });
    assert.equal(unstaged.body.draft.staged, false);
    down.remove();
    const before = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(before.evidence.product_description, "Concert ticket");
    const done = await submitAs(w, w.operator, dispute.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const submitted = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(submitted.evidence_details.submission_count, 1);
    assert.deepEqual(heldAtStripe(submitted), { customer_name: "Jane" });
    assert.deepEqual(submitted.evidence.enhanced_evidence, {});
  });
});

Deno.test("a stale stage reaching Stripe after a newer one never leaves the draft shown as staged", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    // the first save's stage is held at Stripe until the second one has landed (released by
    // the test, not on a timer a busy machine outruns)
    const held = w.emu.faults.inject({
      kind: "latency",
      ms: Infinity,
      method: "POST",
      path: `/v1/disputes/${dispute.stripe_dispute}`,
    });
    const slow = call(w, w.operator, "PUT", path, { customer_name: "first" });
    while (held.remaining() > 0) await new Promise((r) => setTimeout(r, 1));
    const fast = await call(w, w.operator2, "PUT", path, { customer_name: "second" });
    assert.equal(fast.status, 200);
    await held.release();
    await slow;
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.evidence?.customer_name, "second");
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(shown.draft?.staged, atStripe.evidence.customer_name === "second");
    assert.equal(atStripe.evidence.customer_name, "second");
  });
});

Deno.test("parallel saves: whatever the draft shows as staged is what Stripe holds", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    const names = ["a", "b", "c", "d", "e", "f"];
    await Promise.all(
      names.map((n) => call(w, w.operator, "PUT", path, { customer_name: n, service_date: n })),
    );
    const shown = await w.t.services.disputes.get(dispute.id);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    if (shown.draft?.staged) {
      assert.deepEqual(heldAtStripe(atStripe), shown.evidence);
    }
  });
});
