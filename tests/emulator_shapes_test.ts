/**
 * Every object the emulator serves, and every event it delivers, must match the stripe
 * SDK's own types (schemas in tests/fixtures/stripe_schemas.json, regenerated with
 * `deno task stripe-schemas`). So must the test builders in tests/helpers/stripe_objects.ts.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { withEmulator, withWebhookReceiver } from "./helpers/emulator.ts";
import {
  cardPaymentMethod,
  chargeObject,
  customerObject,
  disputeObject,
  earlyFraudWarningObject,
  GENERIC_DECLINE,
  INSUFFICIENT_FUNDS,
  paymentIntentObject,
  paymentStory,
  refundObject,
  reviewObject,
  T0,
} from "./helpers/stripe_objects.ts";
import {
  assertEventShape,
  eventShapeErrors,
  SCHEMA_STRIPE_VERSION,
  shapeErrors,
} from "./fixtures/stripe_shapes.ts";

Deno.test("shapes: the schemas come from the stripe SDK version deno.json pins", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(`npm:stripe@${SCHEMA_STRIPE_VERSION}`, config.imports.stripe);
});

/** Collects objects as the SDK returned them and reports every misshapen one at once. */
class Shapes {
  #seen: { label: string; obj: { object?: unknown } }[] = [];

  add<T>(label: string, obj: T): T {
    this.#seen.push({ label, obj: obj as { object?: unknown } });
    return obj;
  }

  verify(): void {
    const problems = this.#seen.flatMap(({ label, obj }) => {
      const errors = shapeErrors(obj);
      return errors.length
        ? [`${label} (${String(obj.object)}):\n    ${errors.join("\n    ")}`]
        : [];
    });
    assert.equal(problems.length, 0, problems.join("\n"));
  }
}

async function declined(p: Promise<unknown>): Promise<Stripe.errors.StripeCardError> {
  const err = await p.then(() => null, (e) => e);
  assert.ok(err instanceof Stripe.errors.StripeCardError, `expected a card error, got ${err}`);
  return err;
}

/** A PaymentIntent confirmed at once with one of Stripe's test payment methods. */
function confirmedPi(
  stripe: Stripe,
  amount: number,
  paymentMethod: string,
  extra: Partial<Stripe.PaymentIntentCreateParams> = {},
) {
  return stripe.paymentIntents.create({
    amount,
    currency: "usd",
    payment_method: paymentMethod,
    ...extra,
    confirm: true,
  });
}

async function driveEverything(stripe: Stripe, emu: { deliveries(): Promise<void> }) {
  const s = new Shapes();
  const customer = s.add("customer", await stripe.customers.create({ email: "a@example.com" }));
  s.add("customer updated", await stripe.customers.update(customer.id, { name: "Ada" }));
  const pm = s.add(
    "payment method",
    await stripe.paymentMethods.create({
      type: "card",
      card: { number: "4242424242424242", exp_month: 12, exp_year: 2040, cvc: "123" },
    }),
  );
  s.add("attached", await stripe.paymentMethods.attach(pm.id, { customer: customer.id }));
  const pi = s.add(
    "succeeded PI",
    await stripe.paymentIntents.create({
      amount: 5000,
      currency: "usd",
      customer: customer.id,
      payment_method: pm.id,
      confirm: true,
    }),
  );
  s.add("charge", await stripe.charges.retrieve(pi.latest_charge as string));
  s.add("refund", await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 }));
  const err = await declined(confirmedPi(stripe, 700, "pm_card_chargeDeclinedInsufficientFunds"));
  const failedPi = s.add("declined PI", err.payment_intent!);
  s.add("declined PI, retrieved", await stripe.paymentIntents.retrieve(failedPi.id));
  s.add("failed charge", await stripe.charges.retrieve(failedPi.latest_charge as string));
  const disputed = await confirmedPi(stripe, 4200, "pm_card_createDispute");
  await emu.deliveries();
  const [dispute] = (await stripe.disputes.list({ payment_intent: disputed.id })).data;
  s.add("dispute", dispute);
  s.add(
    "dispute updated",
    await stripe.disputes.update(dispute.id, {
      evidence: { customer_name: "Ada" },
      submit: false,
    }),
  );
  s.add("disputed charge", await stripe.charges.retrieve(disputed.latest_charge as string));
  const efw = await confirmedPi(stripe, 900, "pm_card_createEarlyFraudWarning");
  await emu.deliveries();
  const [warning] = (await stripe.radar.earlyFraudWarnings.list({ payment_intent: efw.id })).data;
  s.add("early fraud warning", warning);
  const manual = s.add(
    "authorized PI",
    await confirmedPi(stripe, 3000, "pm_card_visa", { capture_method: "manual" }),
  );
  s.add("uncaptured charge", await stripe.charges.retrieve(manual.latest_charge as string));
  s.add("captured PI", await stripe.paymentIntents.capture(manual.id, { amount_to_capture: 2000 }));
  const canceled = await confirmedPi(stripe, 3000, "pm_card_visa", { capture_method: "manual" });
  s.add("canceled PI", await stripe.paymentIntents.cancel(canceled.id));
  s.add(
    "3DS PI",
    await confirmedPi(stripe, 800, "pm_card_authenticationRequired"),
  );
  const risky = await confirmedPi(stripe, 800, "pm_card_riskLevelElevated");
  s.add("review", await stripe.reviews.approve(risky.review as string));
  const failing = await confirmedPi(stripe, 800, "pm_card_refundFail");
  const pending = s.add(
    "pending refund",
    await stripe.refunds.create({ payment_intent: failing.id }),
  );
  const inquiry = await confirmedPi(stripe, 800, "pm_card_createDisputeInquiry");
  await emu.deliveries();
  s.add("failed refund", await stripe.refunds.retrieve(pending.id));
  const [asked] = (await stripe.disputes.list({ payment_intent: inquiry.id })).data;
  s.add("closed inquiry", await stripe.disputes.close(asked.id));
  s.add(
    "file",
    await stripe.files.create({
      purpose: "dispute_evidence",
      file: {
        data: new TextEncoder().encode("%PDF-1.4\n%%EOF\n"),
        name: "r.pdf",
        type: "application/pdf",
      },
    }),
  );
  s.add(
    "balance transaction",
    await stripe.balanceTransactions.retrieve(dispute.balance_transactions[0].id),
  );
  s.add(
    "legacy charge",
    await stripe.charges.create({ amount: 500, currency: "usd", source: "tok_visa" }),
  );
  s.add(
    "expanded charge",
    await stripe.charges.retrieve(pi.latest_charge as string, {
      expand: ["payment_intent", "balance_transaction"],
    }),
  );
  return s;
}

Deno.test("shapes: every object the emulator returns matches the SDK's types", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const shapes = await driveEverything(stripe, emu);
    shapes.verify();
  });
});

Deno.test("shapes: every event the emulator delivers matches the SDK's types", async () => {
  await withWebhookReceiver(async (receiver) => {
    await withEmulator(async ({ stripe, emu }) => {
      emu.setWebhook({ url: receiver.url, secret: receiver.secret });
      await driveEverything(stripe, emu);
      await emu.deliveries();
      assert.ok(receiver.events.length > 20, `${receiver.events.length} events delivered`);
      const problems = receiver.events.flatMap((e) => {
        const errors = eventShapeErrors(e);
        return errors.length ? [`${e.type}:\n    ${errors.join("\n    ")}`] : [];
      });
      assert.equal(problems.length, 0, problems.join("\n"));
      const listed = await stripe.events.list({ limit: 100 });
      for (const e of listed.data) assertEventShape(e);
    });
  });
});

Deno.test("shapes: the test builders in tests/helpers/stripe_objects.ts match too", () => {
  const story = paymentStory({ customer: "cus_test" });
  const refund = story.refund(T0 + 60, 500);
  const events = [
    story.created(T0),
    story.processing(T0 + 1),
    ...story.succeeded(T0 + 2),
    refund.created,
    refund.chargeRefunded,
    story.refundUpdated(T0 + 90, refund.refund, "failed", "refund.failed"),
    story.dispute(T0 + 120, "charge.dispute.created", { id: "du_test", withdrawn: true }),
    story.dispute(T0 + 130, "charge.dispute.closed", {
      id: "du_test",
      status: "won",
      withdrawn: true,
      reinstated: true,
      submission_count: 1,
    }),
    ...story.failed(T0 + 200, INSUFFICIENT_FUNDS),
  ];
  const objects: { object?: unknown }[] = [
    customerObject(),
    cardPaymentMethod(),
    chargeObject(),
    chargeObject({ status: "failed", decline: GENERIC_DECLINE }),
    paymentIntentObject({ status: "succeeded" }),
    refundObject({ charge: "ch_test", amount: 100 }),
    disputeObject({ charge: "ch_test", amount: 100, status: "warning_needs_response" }),
    earlyFraudWarningObject({ charge: "ch_test" }),
    reviewObject({ charge: "ch_test", open: false }),
    ...events.map((e) => e.data.object as { object?: unknown }),
  ];
  const problems = objects.flatMap((o) => {
    const errors = shapeErrors(o);
    return errors.length ? [`${String(o.object)}:\n    ${errors.join("\n    ")}`] : [];
  });
  assert.equal(problems.length, 0, problems.join("\n"));
  for (const e of events) if (e.type !== "payment_intent.processing") assertEventShape(e);
  // Objects of charges made through a PaymentIntent point back at it by default.
  assert.match(String(disputeObject({ charge: "ch_x", amount: 1 }).payment_intent), /^pi_/);
  assert.match(String(refundObject({ charge: "ch_x", amount: 1 }).payment_intent), /^pi_/);
  assert.match(String(reviewObject({ charge: "ch_x" }).payment_intent), /^pi_/);
  assert.equal(
    refundObject({ charge: "ch_x", amount: 1, payment_intent: null }).payment_intent,
    null,
  );
});
