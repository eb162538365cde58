/**
 * An id longer than any of Stripe's (past 255 characters), on the object or
 * among those it names (customer, charge, payment intent, payment method),
 * would not fit in a KV key: the event fails naming the field, once, and
 * nothing of it is applied (README, "Stripe webhooks").
 */
import assert from "node:assert/strict";
import { deliverSettled, withIntakeApp } from "./helpers/webhooks.ts";
import {
  cardPaymentMethod,
  chargeObject,
  customerObject,
  disputeObject,
  paymentIntentObject,
  refundObject,
  stripeEvent,
  T0,
} from "./helpers/stripe_objects.ts";

const long = (prefix: string, n = 3000) => prefix + "y".repeat(n);

Deno.test("an id past 255 characters fails naming data.object.<field>, not a KV key error", async () => {
  await withIntakeApp(async (t) => {
    const base = { amount: 1000, currency: "usd", created: T0 };
    const charge = (o: Record<string, unknown>) =>
      Object.assign(chargeObject({ ...base, payment_intent: "pi_ok1", customer: "cus_ok1" }), o);
    const cases: [string, string, unknown][] = [
      ["customer.created", "id", customerObject({ id: long("cus_") })],
      ["payment_intent.created", "id", paymentIntentObject({ ...base, id: long("pi_") })],
      [
        "payment_intent.created",
        "customer",
        paymentIntentObject({ ...base, customer: long("cus_") }),
      ],
      ["charge.succeeded", "payment_intent", charge({ payment_intent: long("pi_") })],
      ["charge.succeeded", "customer.id", charge({ customer: { id: long("cus_") } })],
      ["charge.succeeded", "payment_method", charge({ payment_method: long("pm_") })],
      [
        "refund.created",
        "charge",
        refundObject({ ...base, charge: long("ch_"), status: "succeeded" }),
      ],
      [
        "charge.dispute.created",
        "payment_intent",
        disputeObject({ ...base, charge: "ch_ok1", payment_intent: long("pi_") }),
      ],
      [
        "payment_method.attached",
        "customer",
        cardPaymentMethod({ customer: long("cus_") }),
      ],
      ["payment_method.detached", "id", cardPaymentMethod({ id: long("pm_") })],
    ];
    for (const [type, field, object] of cases) {
      const stored = await deliverSettled(t, stripeEvent(type, object as { id: string }, T0 + 1));
      assert.equal(stored.status, "failed", `${type} ${field}: ${stored.detail}`);
      assert.match(
        stored.last_error ?? "",
        new RegExp(`^data\\.object\\.${field.replace(".", "\\.")}: an id of \\d+ characters`),
        `${type} ${field}`,
      );
      assert.doesNotMatch(stored.last_error ?? "", /Key too large/);
    }
    // the customer a payment method was detached from, as its previous_attributes name it
    const detached = stripeEvent("payment_method.detached", cardPaymentMethod(), T0 + 1, {
      previous: { customer: long("cus_") },
    });
    const stored1 = await deliverSettled(t, detached);
    assert.equal(stored1.status, "failed", stored1.detail ?? "");
    assert.match(
      stored1.last_error ?? "",
      /^data\.previous_attributes\.customer: an id of 3004 characters/,
    );
    // 255 characters are still an id
    const fits = customerObject({ id: long("cus_", 251) });
    const stored = await deliverSettled(t, stripeEvent("customer.created", fits, T0 + 2));
    assert.equal(stored.status, "processed", stored.last_error ?? "");
  });
});
