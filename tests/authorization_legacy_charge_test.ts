/**
 * A charge authorized without a PaymentIntent (`ch_…`) is captured or released
 * in the Stripe Dashboard, not here (README "Transactions and money edges"):
 * capture and cancel say so truly, and its expiry alert does not point to them.
 */
import assert from "node:assert/strict";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import type { HeldWebhook } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";
import { HANDLED_EVENT_TYPES } from "../domain/stripe_events.ts";

const TXNS = "/api/admin/payments/transactions";

async function post(w: RetryWorld, path: string, body: unknown) {
  const res = await w.t.app.request(path, jsonRequest("POST", await w.stepUp(), body));
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

Deno.test("a legacy ch_ authorization: capture and cancel point to the Stripe Dashboard; so does its alert", async () => {
  await withRetryWorld(async (w) => {
    const ch = await w.stripe.charges.create({
      amount: 5000,
      currency: "usd",
      source: "tok_visa",
      capture: false,
    });
    await w.deliver();
    const txn = await w.t.services.transactions.get(ch.id);
    assert.equal(txn.status, "requires_capture");
    for (const [kind, body] of [["capture", {}], ["cancel", { reason: "abandoned", note: "x" }]]) {
      const res = await post(w, `${TXNS}/${txn.id}/${kind}`, body);
      assert.equal(res.status, 409);
      const detail = String(res.body.detail);
      assert.match(detail, /without a PaymentIntent/);
      assert.match(detail, /Stripe Dashboard/);
      assert.doesNotMatch(detail, /only an authorization/);
      assert.equal(res.body.payment_intent_status, null, "there is no PaymentIntent");
    }
    w.clock.advance(6 * 24 * 3600_000 + 60_000);
    assert.equal(await w.t.services.retries.sweepExpiringAuthorizations(), 1);
    const alert = (await w.t.services.opsAlerts.list({ limit: 10 })).data
      .find((x) => x.kind === "authorization_expiring");
    assert.ok(alert);
    assert.match(alert.detail, /Stripe Dashboard/);
    assert.doesNotMatch(alert.detail, /POST/);
  });
});

Deno.test("a legacy ch_ authorization that lapses at Stripe reads canceled, over an endpoint subscribed as README's Deploy lists", async () => {
  await withRetryWorld(async (w) => {
    const ch = await w.stripe.charges.create({
      amount: 4400,
      currency: "usd",
      source: "tok_visa",
      capture: false,
    });
    // only the events the endpoint at Stripe sends when set up as README "Deploy" says
    const subscribed = (held: HeldWebhook[]) =>
      held.filter((h) => (HANDLED_EVENT_TYPES as readonly string[]).includes(h.type));
    await w.deliver(subscribed);
    assert.equal((await w.t.services.transactions.get(ch.id)).status, "requires_capture");
    w.emu.advanceClock(7 * 24 * 3600 + 60);
    const lapsed = await w.stripe.charges.retrieve(ch.id);
    assert.equal(lapsed.captured, false);
    assert.equal(lapsed.refunded, true, "Stripe shows the released authorization as refunded");
    assert.ok(await w.deliver(subscribed) >= 1, "charge.expired reaches the service");
    const txn = await w.t.services.transactions.get(ch.id);
    assert.equal(txn.status, "canceled");
    assert.equal(txn.amount_capturable, 0);
  });
});
