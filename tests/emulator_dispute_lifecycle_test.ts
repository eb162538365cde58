import assert from "node:assert/strict";
import Stripe from "stripe";
import { stripeFor, withEmulator } from "./helpers/emulator.ts";
import { assertEventShape, assertShape } from "./fixtures/stripe_shapes.ts";
import { emulatorDispute } from "./helpers/disputes.ts";

const DAY = 24 * 3600;
const PDF = new TextEncoder().encode("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n");

const disputed = emulatorDispute;

function invalid(pattern?: RegExp) {
  return (e: Stripe.errors.StripeError) =>
    e instanceof Stripe.errors.StripeInvalidRequestError && e.statusCode === 400 &&
    (!pattern || pattern.test(e.message));
}

Deno.test("dispute lifecycle: a new dispute carries Stripe's evidence and funds fields", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputed(stripe, emu);
    assertShape(dispute);
    assert.equal(dispute.evidence_details.submission_method, "not_submitted");
    assert.deepEqual(dispute.enhanced_eligibility_types, []);
    assert.equal(dispute.is_charge_refundable, false);
    const [withdrawal] = dispute.balance_transactions;
    assert.equal(withdrawal.amount, -4200);
    assert.equal(withdrawal.fee, 1500);
    assert.equal(withdrawal.net, -5700);
    assert.equal(withdrawal.source, dispute.id);
    assert.equal(withdrawal.fee_details[0].description, "Dispute fee");
    assertShape(await stripe.balanceTransactions.retrieve(withdrawal.id));
  });
});

Deno.test("dispute lifecycle: evidence without `submit` is submitted, as at Stripe", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputed(stripe, emu);
    const staged = await stripe.disputes.update(dispute.id, {
      evidence: { product_description: "Concert ticket" },
      submit: false,
    });
    assert.equal(staged.status, "needs_response");
    assert.equal(staged.evidence_details.has_evidence, true);
    assert.equal(staged.evidence_details.submission_count, 0);
    assert.equal(staged.evidence_details.submission_method, "not_submitted");
    const submitted = await stripe.disputes.update(dispute.id, {
      evidence: { customer_name: "Ada Lovelace" },
    });
    assert.equal(submitted.status, "under_review");
    assert.equal(submitted.evidence_details.submission_count, 1);
    assert.equal(submitted.evidence_details.submission_method, "manual");
    assert.equal(submitted.evidence.product_description, "Concert ticket");
    assertShape(submitted);
    await assert.rejects(
      stripe.disputes.update(dispute.id, { evidence: { customer_name: "Eve" } }),
      invalid(/under review/),
    );
    // Metadata stays editable whatever the status.
    const tagged = await stripe.disputes.update(dispute.id, { metadata: { case: "c1" } });
    assert.equal(tagged.metadata.case, "c1");
  });
});

Deno.test("dispute lifecycle: uploaded files are evidence; unknown ids are refused", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputed(stripe, emu);
    const file = await stripe.files.create({
      purpose: "dispute_evidence",
      file: { data: PDF, name: "receipt.pdf", type: "application/pdf" },
    });
    await assert.rejects(
      stripe.disputes.update(dispute.id, { evidence: { receipt: "file_nope" } }),
      (e: Stripe.errors.StripeError) =>
        e.code === "resource_missing" && e.param === "evidence[receipt]",
    );
    const updated = await stripe.disputes.update(dispute.id, {
      evidence: { receipt: file.id },
      submit: false,
    });
    assert.equal(updated.evidence.receipt, file.id);
  });
});

Deno.test("dispute lifecycle: past the due date evidence is refused", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputed(stripe, emu);
    emu.advanceClock(7 * DAY + 1);
    const late = await stripe.disputes.retrieve(dispute.id);
    assert.equal(late.evidence_details.past_due, true);
    await assert.rejects(
      stripe.disputes.update(dispute.id, { evidence: { customer_name: "Ada" } }),
      invalid(/deadline/),
    );
  });
});

Deno.test("dispute lifecycle: close accepts the loss; closed disputes take no evidence", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputed(stripe, emu);
    const closed = await stripe.disputes.close(dispute.id);
    assert.equal(closed.status, "lost");
    await assert.rejects(
      stripe.disputes.update(dispute.id, { evidence: { customer_name: "Ada" } }),
      invalid(/lost/),
    );
    await assert.rejects(stripe.disputes.close(dispute.id), invalid());
  });
});

Deno.test("dispute lifecycle: won and lost outcomes through the control endpoint", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const won = await disputed(stripe, emu);
    await stripe.disputes.update(won.dispute.id, { evidence: { customer_name: "Ada" } });
    const res = await fetch(`${emu.url}/_emulator/disputes/${won.dispute.id}/resolve`, {
      method: "POST",
      body: JSON.stringify({ outcome: "won" }),
    });
    const body = await res.json();
    assert.equal(body.status, "won");
    assert.equal(body.balance_transactions.length, 2);
    assert.equal(body.balance_transactions[1].amount, 4200);
    const lost = await disputed(stripe, emu);
    assert.equal(emu.resolveDispute(lost.dispute.id, "lost").status, "lost");
    const events = (await stripe.events.list({ limit: 100 })).data;
    const about = (id: string) =>
      events.filter((e) => (e.data.object as { id: string }).id === id).map((e) => e.type)
        .reverse();
    assert.deepEqual(about(won.dispute.id), [
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.updated",
      "charge.dispute.closed",
      "charge.dispute.funds_reinstated",
    ]);
    assert.deepEqual(about(lost.dispute.id), [
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
    ]);
    for (const e of events) assertEventShape(e);
  });
});

Deno.test("dispute lifecycle: an inquiry leaves the charge refundable and can close", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { pi, dispute } = await disputed(stripe, emu, "pm_card_createDisputeInquiry");
    assert.equal(dispute.status, "warning_needs_response");
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 100 });
    assert.equal(refund.status, "succeeded");
    const submitted = await stripe.disputes.update(dispute.id, {
      evidence: { uncategorized_text: "Delivered" },
    });
    assert.equal(submitted.status, "warning_under_review");
    const closed = emu.resolveDispute(dispute.id, "won");
    assert.equal(closed.status, "warning_closed");
    const again = await disputed(stripe, emu, "pm_card_createDisputeInquiry");
    assert.equal((await stripe.disputes.close(again.dispute.id)).status, "warning_closed");
  });
});

Deno.test("dispute lifecycle: the clock control endpoint moves time for the SDK too", async () => {
  const start = Date.UTC(2030, 0, 1);
  await withEmulator(async ({ emu }) => {
    const res = await fetch(`${emu.url}/_emulator/clock`, {
      method: "POST",
      body: JSON.stringify({ advance_seconds: 3600 }),
    });
    assert.equal((await res.json()).now, start / 1000 + 3600);
    const customer = await stripeFor(emu).customers.create({});
    assert.equal(customer.created, start / 1000 + 3600);
  }, { now: () => start });
});
