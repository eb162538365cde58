/**
 * `payment_method.detached` (README, "Deploying to Deno Deploy", step 4): the
 * card leaves the customer's local picture, whichever of attach and detach is
 * delivered first; Stripe never attaches a detached payment method again.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { createTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { postEvent, WEBHOOK_ENV, withEmulatorApp } from "./helpers/webhooks.ts";
import {
  cardPaymentMethod,
  MASTERCARD,
  stripeEvent,
  T0,
  testId,
} from "./helpers/stripe_objects.ts";

/** The events Stripe sends for a card attached to `customer` at `T0`, detached at `T0 + 60`. */
function attachAndDetach(customer: string) {
  const pm = cardPaymentMethod({ customer, created: T0 });
  const attached = stripeEvent("payment_method.attached", pm, T0);
  // Stripe's detached event: the object has no customer any more; the previous one is named
  const gone = { ...pm, customer: null } as unknown as Stripe.PaymentMethod;
  const detached = stripeEvent("payment_method.detached", gone, T0 + 60, {
    previous: { customer },
  });
  return { pm, attached, detached };
}

async function customerPageAfter(customer: string, events: Stripe.Event[]) {
  const t = await createTestApp({ env: WEBHOOK_ENV });
  try {
    const viewer = await createAdmin(t, "viewer");
    for (const e of events) {
      const res = await postEvent(t.app, e, { clock: t.clock });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      await t.services.webhooks.drain();
    }
    const statuses = [];
    for (const e of events) statuses.push((await t.services.webhooks.get(e.id)).status);
    const res = await t.app.request(`/api/admin/payments/customers/${customer}`, {
      headers: authHeaders(viewer),
    });
    assert.equal(res.status, 200);
    const page = await res.json();
    const { updated_at: _u, ...aggregates } = page.aggregates ?? {};
    return { statuses, payment_methods: page.customer.payment_methods, aggregates };
  } finally {
    await t.close();
  }
}

Deno.test("payment_method.detached removes the card from GET /customers/{id}", async () => {
  const customer = testId("cus");
  const { attached, detached } = attachAndDetach(customer);
  const before = await customerPageAfter(customer, [attached]);
  assert.equal(before.payment_methods.length, 1);
  const after = await customerPageAfter(customer, [attached, detached]);
  assert.deepEqual(after.statuses, ["processed", "processed"]);
  assert.deepEqual(after.payment_methods, []);
  // the card was seen on this customer all the same: the fraud rules still count it
  assert.deepEqual(after.aggregates, before.aggregates);
});

Deno.test("a detached card stays gone when its attached event is delivered after the detach", async () => {
  const customer = testId("cus");
  const { attached, detached } = attachAndDetach(customer);
  const inOrder = await customerPageAfter(customer, [attached, detached]);
  const reversed = await customerPageAfter(customer, [detached, attached]);
  assert.deepEqual(reversed.payment_methods, []);
  assert.deepEqual(reversed.aggregates, inOrder.aggregates);
  // another card attached meanwhile stays
  const other = cardPaymentMethod({ customer, card: MASTERCARD, created: T0 + 30 });
  const third = stripeEvent("payment_method.attached", other, T0 + 30);
  const mixed = await customerPageAfter(customer, [detached, third, attached]);
  assert.deepEqual(mixed.payment_methods.map((p: { id: string }) => p.id), [other.id]);
});

Deno.test("a card detached at the emulator leaves the customer page, as the live list says", async () => {
  await withEmulatorApp(async ({ t, stripe, settle }) => {
    const customer = await stripe.customers.create({ email: "kim@example.com" });
    const pm = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await settle();
    const shown = await t.services.customers.get(customer.id, { limit: 10 });
    assert.deepEqual(shown.customer.payment_methods.map((p) => p.id), [pm.id]);
    await stripe.paymentMethods.detach(pm.id);
    await settle();
    const after = await t.services.customers.get(customer.id, { limit: 10 });
    assert.deepEqual(after.customer.payment_methods, []);
    const events = await t.services.webhooks.list({ type: "payment_method.detached", limit: 10 });
    assert.equal(events.data.length, 1);
    assert.equal(events.data[0].status, "processed");
  });
});
