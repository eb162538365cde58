/**
 * A refund Stripe showed pending before it failed: the same ledger history
 * (the refund's entry and its reversal) whichever of its events came first;
 * one seen only failed posts neither (README, "Transactions and money edges").
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { createTestApp } from "./helpers/app.ts";
import { paymentStory, T0, testId } from "./helpers/stripe_objects.ts";
import { allLedgerEntries } from "../kv/customers.ts";

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) =>
    permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest])
  );
}

async function ledgerAfter(events: Stripe.Event[], customer: string) {
  const t = await createTestApp();
  try {
    for (const e of events) await t.services.stripeEvents.apply(e);
    return (await allLedgerEntries(t.kv, customer))
      .map((e) => `${e.type} ${e.amount} ${e.currency} ${e.stripe_object}`)
      .sort();
  } finally {
    await t.close();
  }
}

function story() {
  const customer = testId("cus");
  const s = paymentStory({ customer, amount: 4000 });
  const { refund, created } = s.refund(T0 + 100, 1500, { status: "pending" });
  const failed = s.refundUpdated(T0 + 200, refund, "failed");
  return { customer, s, refund, created, failed };
}

Deno.test("a refund pending then failed leaves its entry and the reversal in every order", async () => {
  const { customer, s, refund, created, failed } = story();
  const [chargeOk, piOk] = s.succeeded(T0 + 4);
  const events = [s.created(T0), chargeOk, piOk, created, failed];
  const expected = [
    `payment 4000 usd ${s.ch}`,
    `refund -1500 usd ${refund.id}`,
    `refund_reversal 1500 usd ${refund.id}`,
  ].sort();
  for (const order of permutations(events)) {
    assert.deepEqual(
      await ledgerAfter(order, customer),
      expected,
      order.map((e) => e.type).join(","),
    );
  }
});

Deno.test("a refund seen only failed posts neither its entry nor a reversal", async () => {
  const { customer, s, failed } = story();
  const [chargeOk, piOk] = s.succeeded(T0 + 4);
  for (const order of permutations([chargeOk, piOk, failed])) {
    assert.deepEqual(await ledgerAfter(order, customer), [`payment 4000 usd ${s.ch}`]);
  }
});
