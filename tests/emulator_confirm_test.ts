import assert from "node:assert/strict";
import Stripe from "stripe";
import { withEmulator } from "./helpers/emulator.ts";
import { assertShape } from "./fixtures/stripe_shapes.ts";

async function rejected(p: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const err = await p.then(() => null, (e) => e);
  assert.ok(err instanceof Stripe.errors.StripeError, `expected a Stripe error, got ${err}`);
  return err;
}

Deno.test("confirm: a declined PaymentIntent is confirmed again with a new card", async () => {
  await withEmulator(async ({ stripe }) => {
    const customer = await stripe.customers.create({ email: "c@example.com" });
    const pi = await stripe.paymentIntents.create({
      amount: 2000,
      currency: "usd",
      customer: customer.id,
    });
    const err = await rejected(
      stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_chargeDeclined" }),
    );
    assert.equal(err.statusCode, 402);
    const declined = await stripe.paymentIntents.retrieve(pi.id);
    assert.equal(declined.status, "requires_payment_method");
    const retried = await stripe.paymentIntents.confirm(pi.id, {
      payment_method: "pm_card_visa",
      off_session: true,
    });
    assert.equal(retried.status, "succeeded");
    assert.equal(retried.last_payment_error, null);
    assertShape(retried);
    const again = await rejected(stripe.paymentIntents.confirm(pi.id));
    assert.equal(again.statusCode, 400);
    assert.equal(again.code, "payment_intent_unexpected_state");
    assert.match(again.message, /status of succeeded/);
  });
});

Deno.test("confirm: authenticationRequired off session declines with authentication_required", async () => {
  await withEmulator(async ({ stripe }) => {
    const err = await rejected(stripe.paymentIntents.create({
      amount: 2000,
      currency: "usd",
      payment_method: "pm_card_authenticationRequired",
      confirm: true,
      off_session: true,
    }));
    assert.ok(err instanceof Stripe.errors.StripeCardError);
    assert.equal(err.code, "authentication_required");
    assert.equal(err.decline_code, "authentication_required");
    const pi = err.payment_intent!;
    assert.equal(pi.status, "requires_payment_method");
    assert.equal(pi.last_payment_error?.code, "authentication_required");
    assertShape(pi);
  });
});

Deno.test("confirm: on session 3D Secure is required, then completed or failed", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const create = () =>
      stripe.paymentIntents.create({
        amount: 2000,
        currency: "usd",
        payment_method: "pm_card_authenticationRequired",
        confirm: true,
      });
    const pi = await create();
    assert.equal(pi.status, "requires_action");
    assert.equal(pi.next_action?.type, "use_stripe_sdk");
    assert.match(pi.client_secret ?? "", new RegExp(`^${pi.id}_secret_`));
    assertShape(pi);
    const done = emu.authenticate(pi.id, "succeed");
    assert.equal(done.status, "succeeded");
    const failed = emu.authenticate((await create()).id, "fail");
    assert.equal(failed.status, "requires_payment_method");
    assert.equal(failed.last_payment_error?.code, "payment_intent_authentication_failure");
    assertShape(await stripe.paymentIntents.retrieve(failed.id));
    assertShape(await stripe.paymentIntents.retrieve(pi.id));
  });
});

Deno.test("confirm: the OnSetup card needs 3DS once, then pays off session", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const customer = await stripe.customers.create({ email: "s@example.com" });
    const first = await stripe.paymentIntents.create({
      amount: 1000,
      currency: "usd",
      customer: customer.id,
      payment_method: "pm_card_authenticationRequiredOnSetup",
      setup_future_usage: "off_session",
      confirm: true,
    });
    assert.equal(first.status, "requires_action");
    const done = emu.authenticate(first.id, "succeed");
    assert.equal(done.status, "succeeded");
    const saved = await stripe.paymentMethods.retrieve(done.payment_method as string);
    assert.equal(saved.customer, customer.id);
    const later = await stripe.paymentIntents.create({
      amount: 1000,
      currency: "usd",
      customer: customer.id,
      payment_method: saved.id,
      confirm: true,
      off_session: true,
    });
    assert.equal(later.status, "succeeded");
    const fresh = await rejected(stripe.paymentIntents.create({
      amount: 1000,
      currency: "usd",
      payment_method: "pm_card_authenticationRequiredOnSetup",
      confirm: true,
      off_session: true,
    }));
    assert.equal(fresh.code, "authentication_required");
  });
});

Deno.test("confirm: payment methods attach, list, detach, and stay with their customer", async () => {
  await withEmulator(async ({ stripe }) => {
    const ada = await stripe.customers.create({ email: "ada@example.com" });
    const bob = await stripe.customers.create({ email: "bob@example.com" });
    const visa = await stripe.paymentMethods.attach("pm_card_visa", { customer: ada.id });
    assert.match(visa.id, /^pm_/);
    assert.equal(visa.customer, ada.id);
    const mc = await stripe.paymentMethods.attach("pm_card_mastercard", { customer: ada.id });
    const listed = await stripe.customers.listPaymentMethods(ada.id);
    assert.deepEqual(listed.data.map((p) => p.id).sort(), [visa.id, mc.id].sort());
    const byQuery = await stripe.paymentMethods.list({ customer: ada.id, type: "card" });
    assert.equal(byQuery.data.length, 2);
    const taken = await rejected(stripe.paymentMethods.attach(visa.id, { customer: bob.id }));
    assert.equal(taken.statusCode, 400);
    const foreign = await rejected(stripe.paymentIntents.create({
      amount: 500,
      currency: "usd",
      customer: bob.id,
      payment_method: visa.id,
      confirm: true,
    }));
    assert.equal(foreign.param, "payment_method");
    const paid = await stripe.paymentIntents.create({
      amount: 500,
      currency: "usd",
      customer: ada.id,
      payment_method: visa.id,
      confirm: true,
      off_session: true,
    });
    assert.equal(paid.status, "succeeded");
    const detached = await stripe.paymentMethods.detach(mc.id);
    assert.equal(detached.customer, null);
    assertShape(detached);
    assert.deepEqual(
      (await stripe.customers.listPaymentMethods(ada.id)).data.map((p) => p.id),
      [visa.id],
    );
  });
});
