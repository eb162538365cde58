/**
 * The expiry alert follows Stripe's `capture_before` on the uncaptured charge
 * when it has one (a Visa off-session authorization lapses after 4 days 18
 * hours), 7 days otherwise (README "Retrying failed payments", Authorizations).
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";

const HOUR = 3600_000;

Deno.test("an off-session Visa authorization is alerted 24 h before its capture_before, not day 6", async () => {
  await withRetryWorld(async (w) => {
    const customer = await w.stripe.customers.create({ email: "mit@example.com" });
    const pi = await w.stripe.paymentIntents.create({
      amount: 6000,
      currency: "usd",
      customer: customer.id,
      capture_method: "manual",
      payment_method: "pm_card_visa",
      confirm: true,
      off_session: true,
    });
    assert.equal(pi.status, "requires_capture");
    const charge = await w.stripe.charges.retrieve(String(pi.latest_charge));
    const before = charge.payment_method_details?.card?.capture_before;
    assert.equal(before, charge.created + (4 * 24 + 18) * 3600, "Stripe's Visa MIT window");
    await w.deliver();
    w.clock.advance((3 * 24 + 18) * HOUR - 60_000);
    assert.equal(await w.t.services.retries.sweepExpiringAuthorizations(), 0, "not yet");
    w.clock.advance(120_000);
    assert.equal(await w.t.services.retries.sweepExpiringAuthorizations(), 1);
    const alert = (await w.t.services.opsAlerts.list({ limit: 10 })).data
      .find((x) => x.kind === "authorization_expiring");
    assert.ok(alert);
    assert.match(alert.detail, new RegExp(new Date(before! * 1000).toISOString()));
    assert.match(alert.detail, /POST \/api\/admin\/payments\/transactions\/txn_\w+\/capture/);
  });
});
