/**
 * README, "What Stripe holds": staging and submitting leave Stripe holding exactly the
 * draft, `enhanced_evidence` included. Stripe merges the programs of `enhanced_evidence`
 * (Visa Compelling Evidence 3.0, Visa compliance, Mastercard compliance) into what it
 * holds, so a program the draft no longer carries must be taken away, and
 * `draft.staged` compares the programs too.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, submitAs } from "./helpers/disputes.ts";
import { stripeHoldsDraft } from "../services/disputes/evidence_rules.ts";

const VISA = { visa_compliance: { fee_acknowledged: true } };
const MASTERCARD = { mastercard_compliance: { fee_acknowledged: false } };

Deno.test("a program removed from the draft is removed at Stripe, staged and submitted", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    const first = await call(w, w.operator, "PUT", path, {
      uncategorized_text: "t",
      enhanced_evidence: VISA,
    });
    assert.equal(first.body.draft.staged, true, JSON.stringify(first.body.draft));
    const second = await call(w, w.operator, "PUT", path, {
      uncategorized_text: "t2",
      enhanced_evidence: MASTERCARD,
    });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.draft.staged, true, JSON.stringify(second.body.draft));
    const staged = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.deepEqual(Object.keys(staged.evidence.enhanced_evidence), ["mastercard_compliance"]);
    const done = await submitAs(w, w.operator, dispute.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const submitted = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(submitted.evidence_details.submission_count, 1);
    assert.equal(submitted.evidence.uncategorized_text, "t2");
    assert.deepEqual(Object.keys(submitted.evidence.enhanced_evidence), ["mastercard_compliance"]);
  });
});

Deno.test("submit removes a program Stripe still holds when the draft's own stage failed", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    await call(w, w.operator, "PUT", path, {
      uncategorized_text: "t",
      enhanced_evidence: { ...VISA, ...MASTERCARD },
    });
    const down = w.emu.faults.inject({
      kind: "server_error",
      method: "POST",
      path: `/v1/disputes/${dispute.stripe_dispute}`,
      times: Infinity,
    });
    const unstaged = await call(w, w.operator, "PUT", path, {
      uncategorized_text: "t",
      enhanced_evidence: MASTERCARD,
    });
    assert.equal(unstaged.body.draft.staged, false);
    down.remove();
    const done = await submitAs(w, w.operator, dispute.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const submitted = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(submitted.evidence_details.submission_count, 1);
    assert.deepEqual(submitted.evidence.enhanced_evidence, MASTERCARD);
  });
});

Deno.test("stripeHoldsDraft() compares enhanced_evidence: a program too many or too few is not the draft", () => {
  const held = (enhanced: Record<string, unknown>) => ({
    uncategorized_text: "t",
    receipt: null,
    enhanced_evidence: enhanced,
  });
  const draft = { uncategorized_text: "t", enhanced_evidence: MASTERCARD };
  assert.equal(stripeHoldsDraft(held(MASTERCARD), draft), true);
  assert.equal(stripeHoldsDraft(held({ ...VISA, ...MASTERCARD }), draft), false);
  assert.equal(stripeHoldsDraft(held({}), draft), false);
  assert.equal(stripeHoldsDraft(held(VISA), { uncategorized_text: "t" }), false);
  assert.equal(stripeHoldsDraft(held({}), { uncategorized_text: "t" }), true);
  // a value Stripe answers as another program's value is another program
  assert.equal(
    stripeHoldsDraft(held({ mastercard_compliance: { fee_acknowledged: true } }), draft),
    false,
  );
  // Stripe's nulls for what was never set are nothing set
  const ce3 = {
    visa_compelling_evidence_3: {
      disputed_transaction: { customer_email_address: "a@example.com" },
      prior_undisputed_transactions: [],
    },
  };
  const ce3Held = {
    visa_compelling_evidence_3: {
      disputed_transaction: {
        customer_account_id: null,
        customer_email_address: "a@example.com",
        shipping_address: null,
      },
      prior_undisputed_transactions: [],
    },
  };
  assert.equal(
    stripeHoldsDraft(held(ce3Held), { uncategorized_text: "t", enhanced_evidence: ce3 }),
    true,
  );
});

Deno.test('the emulator merges programs, empties enhanced_evidence on "", and refuses "" for one program', async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const du = dispute.stripe_dispute;
    const update = (enhanced: unknown) =>
      w.stripe.disputes.update(du, {
        evidence: { enhanced_evidence: enhanced },
        submit: false,
      } as Stripe.DisputeUpdateParams);
    await update(VISA);
    const merged = await update(MASTERCARD);
    assert.deepEqual(merged.evidence.enhanced_evidence, { ...VISA, ...MASTERCARD });
    // a program is not Emptyable in the SDK's DisputeUpdateParams: Stripe refuses "" for it
    await assert.rejects(update({ visa_compliance: "" }), (e: Stripe.errors.StripeError) => {
      assert.equal(e.statusCode, 400);
      assert.equal(e.param, "evidence[enhanced_evidence][visa_compliance]");
      return true;
    });
    const emptied = await update("");
    assert.deepEqual(emptied.evidence.enhanced_evidence, {});
  });
});
