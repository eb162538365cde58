import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  cardPaymentMethod,
  GENERIC_DECLINE,
  INSUFFICIENT_FUNDS,
  otherCard,
  paymentStory,
  stripeEvent,
  T0,
} from "./helpers/stripe_objects.ts";
import {
  amountStats,
  countInWindow,
  distinctFingerprints,
} from "../services/ingest/aggregates_view.ts";

const HOUR = 3600_000;

Deno.test("a card-testing burst shows as declines and distinct cards in the last hour", async () => {
  await withTestApp(async (t) => {
    const now = t.clock.now();
    for (let i = 0; i < 12; i++) {
      const story = paymentStory({ customer: "cus_Burst1", amount: 100, card: otherCard(i) });
      const at = T0 + 3000 + i * 30; // 08:50 onwards, within the hour before the clock
      for (const e of story.failed(at, i % 3 ? GENERIC_DECLINE : INSUFFICIENT_FUNDS)) {
        await t.services.stripeEvents.apply(e);
      }
    }
    const agg = (await t.services.customers.aggregates("cus_Burst1"))!;
    const hour = countInWindow(agg, now, HOUR);
    assert.equal(hour.failures, 12);
    assert.equal(hour.payments, 0);
    assert.deepEqual(hour.declines, { generic_decline: 8, insufficient_funds: 4 });
    assert.equal(distinctFingerprints(agg, now, HOUR), 12);
    assert.equal(agg.totals.failures, 12);
  });
});

Deno.test("amount mean and deviation are kept incrementally per currency", async () => {
  await withTestApp(async (t) => {
    for (const [i, amount] of [1000, 2000, 3000].entries()) {
      const story = paymentStory({ customer: "cus_Stats1", amount });
      for (const e of story.succeeded(T0 + i)) await t.services.stripeEvents.apply(e);
    }
    const eur = paymentStory({ customer: "cus_Stats1", amount: 99_999, currency: "eur" });
    for (const e of eur.succeeded(T0 + 10)) await t.services.stripeEvents.apply(e);
    const agg = (await t.services.customers.aggregates("cus_Stats1"))!;
    const usd = amountStats(agg, "usd")!;
    assert.equal(usd.count, 3);
    assert.equal(usd.mean, 2000);
    assert.equal(Math.round(usd.stddev), 1000);
    assert.equal(amountStats(agg, "eur")?.count, 1);
    assert.equal(agg.totals.payments, 4);
  });
});

Deno.test("hour buckets older than the window are dropped, totals are kept", async () => {
  await withTestApp(async (t) => {
    const old = paymentStory({ customer: "cus_Window1" });
    for (const e of old.succeeded(T0)) await t.services.stripeEvents.apply(e);
    t.clock.advance(72 * HOUR);
    const recent = paymentStory({ customer: "cus_Window1" });
    const at = Math.floor(t.clock.now() / 1000) - 60;
    for (const e of recent.succeeded(at)) await t.services.stripeEvents.apply(e);
    const agg = (await t.services.customers.aggregates("cus_Window1"))!;
    assert.deepEqual(Object.keys(agg.hours).map(Number), [Math.floor(at * 1000 / HOUR) * HOUR]);
    assert.equal(agg.totals.payments, 2);
    assert.equal(countInWindow(agg, t.clock.now(), 24 * HOUR).payments, 1);
  });
});

Deno.test("payment_method.attached records the card on the customer and its fingerprint", async () => {
  await withTestApp(async (t) => {
    const pm = cardPaymentMethod({ customer: "cus_Attach1", card: otherCard(7), created: T0 });
    const event = stripeEvent("payment_method.attached", pm, T0);
    assert.equal((await t.services.stripeEvents.apply(event)).applied, true);
    assert.equal((await t.services.stripeEvents.apply(event)).applied, false);
    const agg = (await t.services.customers.aggregates("cus_Attach1"))!;
    assert.deepEqual(Object.keys(agg.fingerprints), ["fpTest7"]);
    const view = await t.services.customers.get("cus_Attach1", { limit: 10 });
    assert.deepEqual(view.customer.payment_methods.map((p) => [p.id, p.last4]), [
      [pm.id, otherCard(7).last4],
    ]);
  });
});
