import assert from "node:assert/strict";
import Stripe from "stripe";
import { withEmulator } from "./helpers/emulator.ts";

const DAY = 24 * 3600;

async function disputedPayment(stripe: Stripe, emu: { deliveries(): Promise<void> }) {
  const pi = await stripe.paymentIntents.create({
    amount: 4200,
    currency: "usd",
    payment_method: "pm_card_createDispute",
    confirm: true,
  });
  await emu.deliveries();
  const [dispute] = (await stripe.disputes.list({ payment_intent: pi.id })).data;
  assert.ok(dispute, "the createDispute card opens a dispute");
  return { pi, dispute };
}

Deno.test("emulator: the createDispute card opens a fraudulent dispute due in 7 days", async () => {
  const now = Date.UTC(2030, 0, 1);
  await withEmulator(async ({ stripe, emu }) => {
    const { pi, dispute } = await disputedPayment(stripe, emu);
    assert.equal(dispute.status, "needs_response");
    assert.equal(dispute.reason, "fraudulent");
    assert.equal(dispute.amount, 4200);
    assert.equal(dispute.charge, pi.latest_charge);
    assert.equal(dispute.is_charge_refundable, false);
    assert.equal(dispute.evidence_details.due_by, now / 1000 + 7 * DAY);
    assert.equal(dispute.evidence_details.has_evidence, false);
    assert.equal(dispute.evidence_details.submission_count, 0);
    assert.equal(dispute.balance_transactions[0].amount, -4200);
    assert.equal(dispute.evidence.customer_name, null);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.disputed, true);
    const byCharge = await stripe.disputes.list({ charge: charge.id });
    assert.deepEqual(byCharge.data.map((d) => d.id), [dispute.id]);
  }, { now: () => now });
});

Deno.test("emulator: evidence is staged, submitted once, and a second submit is refused", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputedPayment(stripe, emu);
    const staged = await stripe.disputes.update(dispute.id, {
      evidence: { customer_name: "Ada Lovelace", product_description: "Ticket" },
      metadata: { case: "dsp_1" },
      submit: false,
    });
    assert.equal(staged.status, "needs_response");
    assert.equal(staged.evidence_details.has_evidence, true);
    assert.equal(staged.evidence_details.submission_count, 0);
    assert.equal(staged.evidence.customer_name, "Ada Lovelace");
    const submitted = await stripe.disputes.update(dispute.id, {
      evidence: { uncategorized_text: "Signed delivery receipt" },
      submit: true,
    });
    assert.equal(submitted.status, "under_review");
    assert.equal(submitted.evidence_details.submission_count, 1);
    assert.equal(submitted.evidence.product_description, "Ticket");
    await assert.rejects(
      stripe.disputes.update(dispute.id, { submit: true }),
      (e: Stripe.errors.StripeError) => e.statusCode === 400,
    );
    await assert.rejects(
      stripe.disputes.close(dispute.id),
      Stripe.errors.StripeInvalidRequestError,
    );
  });
});

Deno.test("emulator: closing a dispute accepts the loss", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputedPayment(stripe, emu);
    const closed = await stripe.disputes.close(dispute.id);
    assert.equal(closed.status, "lost");
    const events = await stripe.events.list({ type: "charge.dispute.closed" });
    assert.equal((events.data[0].data.object as Stripe.Dispute).id, dispute.id);
  });
});

Deno.test("emulator: the control API settles a dispute as won", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputedPayment(stripe, emu);
    await stripe.disputes.update(dispute.id, { evidence: { customer_name: "Ada" } });
    const res = await fetch(`${emu.url}/_emulator/disputes/${dispute.id}/resolve`, {
      method: "POST",
      body: JSON.stringify({ outcome: "won" }),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, "won");
    const types = (await stripe.events.list({ limit: 100 })).data.map((e) => e.type);
    assert.ok(types.includes("charge.dispute.funds_reinstated"));
    assert.throws(() => emu.resolveDispute(dispute.id, "lost"), /already closed/);
  });
});

Deno.test("emulator: the early-fraud-warning card raises a warning after its charge", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const pi = await stripe.paymentIntents.create({
      amount: 999,
      currency: "usd",
      payment_method: "pm_card_createEarlyFraudWarning",
      confirm: true,
    });
    await emu.deliveries();
    const warnings = await stripe.radar.earlyFraudWarnings.list({ payment_intent: pi.id });
    assert.equal(warnings.data.length, 1);
    assert.equal(warnings.data[0].charge, pi.latest_charge);
    assert.equal(warnings.data[0].actionable, true);
    assert.match(warnings.data[0].id, /^issfr_/);
    const types = (await stripe.events.list({ limit: 10 })).data.map((e) => e.type);
    // Newest first: the warning comes after the charge's own events.
    assert.deepEqual(types.slice(0, 3), [
      "radar.early_fraud_warning.created",
      "payment_intent.succeeded",
      "charge.succeeded",
    ]);
  });
});
