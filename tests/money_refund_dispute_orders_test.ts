/**
 * Partial refunds and a dispute on one payment, Stripe-shaped, in every event
 * order (README "Transactions and money edges", ARCHITECTURE invariant 9): each
 * refund made in the Dashboard succeeds at once or pends, and may succeed, fail
 * (also after it had succeeded) or be canceled; a refund may name only the
 * charge; then an inquiry that closes, or a chargeback lost or won, for what is
 * left of the charge; in USD, JPY or KWD; the PaymentIntent may have been
 * created before its customer was set. The transaction, the ledger and the
 * balance equal the in-order run and the money Stripe moved, on one isolate
 * and split across two (each event possibly on both).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type Stripe from "stripe";
import {
  chargeObject,
  disputeObject,
  paymentIntentObject,
  refundObject,
  stripeEvent,
  T0,
  testId,
} from "./helpers/stripe_objects.ts";
import { finalState, shuffledStories } from "./helpers/event_order.ts";

type Fate =
  | "succeeded"
  | "pending_succeeded"
  | "pending_failed"
  | "succeeded_failed"
  | "pending_canceled";

interface Scenario {
  amount: number;
  currency: "usd" | "jpy" | "kwd";
  /** the PaymentIntent was created without a customer, set before it was paid */
  customerLater: boolean;
  refunds: { share: number; fate: Fate; chargeOnly: boolean }[];
  dispute: null | "inquiry_closed" | "lost" | "won";
  /** these events (by index) are delivered a second time */
  again: number[];
}

/** What Stripe moved for the customer: captured, refunded, and what the dispute took. */
function stripeMoney(s: Scenario) {
  const amounts = refundAmounts(s);
  const counted = s.refunds.filter((r) => r.fate === "succeeded" || r.fate === "pending_succeeded");
  const refunded = counted.reduce((n, r) => n + amounts[s.refunds.indexOf(r)], 0);
  const took = s.dispute === "lost" ? s.amount - refunded : 0;
  return { captured: s.amount, refunded, took, balance: s.amount - refunded - took };
}

/** Each refund's amount: its share of the payment, in the currency's minor unit (KWD ends in 0). */
function refundAmounts(s: Scenario): number[] {
  const unit = s.currency === "kwd" ? 10 : 1;
  return s.refunds.map((r) => Math.max(unit, Math.floor((s.amount * r.share) / 100 / unit) * unit));
}

function eventsOf(s: Scenario, customer: string): Stripe.Event[] {
  const pi = testId("pi"), ch = testId("ch");
  const { amount, currency } = s;
  const amounts = refundAmounts(s);
  const out: Stripe.Event[] = [];
  const piObject = (status: Stripe.PaymentIntent.Status, who: string | null) =>
    paymentIntentObject({
      id: pi,
      amount,
      currency,
      customer: who,
      status,
      created: T0,
      ...(status === "succeeded" ? { latest_charge: ch } : {}),
    });
  out.push(
    stripeEvent(
      "payment_intent.created",
      piObject("requires_payment_method", s.customerLater ? null : customer),
      T0,
    ),
  );
  const paidAt = T0 + 5;
  const charge = (extra: { amount_refunded?: number; refunds?: Stripe.Refund[] } = {}) =>
    chargeObject({
      id: ch,
      payment_intent: pi,
      amount,
      currency,
      customer,
      created: paidAt,
      ...extra,
    });
  out.push(stripeEvent("charge.succeeded", charge(), paidAt));
  out.push(stripeEvent("payment_intent.succeeded", piObject("succeeded", customer), paidAt));

  // Stripe's refunds as they are now, and the charge's amount_refunded from them
  const current: Stripe.Refund[] = [];
  const counts = (r: Stripe.Refund) => r.status === "pending" || r.status === "succeeded";
  const chargeNow = () =>
    charge({
      amount_refunded: current.filter(counts).reduce((n, r) => n + r.amount, 0),
      refunds: current.map((r) => ({ ...r })),
    });
  const refundAs = (i: number, status: string, created: number) =>
    refundObject({
      id: `re_${pi.slice(3)}_${i}`,
      charge: ch,
      payment_intent: s.refunds[i].chargeOnly ? null : pi,
      customer,
      amount: amounts[i],
      currency,
      status,
      created,
      ...(status === "failed" ? { failure_reason: "expired_or_canceled_card" } : {}),
    });
  const created: number[] = [];
  s.refunds.forEach((r, i) => {
    const at = T0 + 100 + 10 * i;
    created.push(at);
    const re = refundAs(i, r.fate.startsWith("pending") ? "pending" : "succeeded", at);
    current.push(re);
    out.push(stripeEvent("refund.created", re, at));
    out.push(stripeEvent("charge.refunded", chargeNow(), at));
  });
  s.refunds.forEach((r, i) => {
    if (r.fate === "succeeded") return;
    const at = T0 + 300 + 10 * i;
    const previous = { status: current[i].status };
    const status = r.fate.endsWith("succeeded")
      ? "succeeded"
      : r.fate.endsWith("failed")
      ? "failed"
      : "canceled";
    const re = refundAs(i, status, created[i]);
    current[i] = re;
    out.push(stripeEvent("refund.updated", re, at, { previous }));
    if (status === "failed") out.push(stripeEvent("refund.failed", re, at, { previous }));
    out.push(stripeEvent("charge.refund.updated", re, at, { previous }));
  });
  if (s.dispute) {
    const id = testId("du"), at = T0 + 1000, closedAt = T0 + 5000;
    const left = amount - current.filter(counts).reduce((n, r) => n + r.amount, 0);
    const du = (o: { status: Stripe.Dispute.Status; withdrawn?: boolean; reinstated?: boolean }) =>
      disputeObject({
        id,
        charge: ch,
        payment_intent: pi,
        amount: left,
        currency,
        created: at,
        ...o,
      });
    if (s.dispute === "inquiry_closed") {
      out.push(stripeEvent("charge.dispute.created", du({ status: "warning_needs_response" }), at));
      out.push(stripeEvent("charge.dispute.closed", du({ status: "warning_closed" }), closedAt));
    } else {
      const won = s.dispute === "won";
      out.push(stripeEvent("charge.dispute.created", du({ status: "needs_response" }), at));
      out.push(
        stripeEvent(
          "charge.dispute.funds_withdrawn",
          du({ status: "needs_response", withdrawn: true }),
          at,
        ),
      );
      const closed = du({ status: won ? "won" : "lost", withdrawn: true, reinstated: won });
      out.push(stripeEvent("charge.dispute.closed", closed, closedAt));
      if (won) out.push(stripeEvent("charge.dispute.funds_reinstated", closed, closedAt));
    }
  }
  return [...out, ...s.again.filter((i) => i < out.length).map((i) => out[i])];
}

const FATES: Fate[] = [
  "succeeded",
  "pending_succeeded",
  "pending_failed",
  "succeeded_failed",
  "pending_canceled",
];

const scenario: fc.Arbitrary<Scenario> = fc.record({
  amount: fc.integer({ min: 100, max: 10_000 }).map((n) => n * 10),
  currency: fc.constantFrom("usd" as const, "jpy" as const, "kwd" as const),
  customerLater: fc.boolean(),
  refunds: fc.array(
    fc.record({
      share: fc.integer({ min: 1, max: 30 }),
      fate: fc.constantFrom(...FATES),
      chargeOnly: fc.boolean(),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  dispute: fc.constantFrom(null, "inquiry_closed" as const, "lost" as const, "won" as const),
  again: fc.uniqueArray(fc.nat({ max: 20 }), { maxLength: 4 }),
});

/** The in-order run shows the money Stripe moved, to the cent. */
function assertStripeMoney(s: Scenario, state: Awaited<ReturnType<typeof finalState>>) {
  const money = stripeMoney(s);
  assert.equal(state.txn.currency, s.currency);
  assert.equal(state.txn.amount_captured, money.captured, "captured");
  assert.equal(state.txn.amount_refunded, money.refunded, "refunded");
  assert.equal(state.txn.amount_disputed, money.took, "disputed");
  assert.equal(state.balance, money.balance, "balance");
  assert.deepEqual(Object.keys(state.counters?.balances ?? {}), [s.currency], "one currency");
}

/** A scenario, its customer, its events in Stripe's order and the same events shuffled. */
const stories = scenario.chain((s) =>
  shuffledStories(fc.constant(s), eventsOf).map((x) => [s, ...x] as const)
);

Deno.test("partial refunds (some failing, one after succeeding) and a dispute: every order ends as Stripe", async () => {
  await fc.assert(
    fc.asyncProperty(
      stories,
      async ([s, customer, inOrder, shuffled]) => {
        const expected = await finalState(inOrder, customer);
        assertStripeMoney(s, expected);
        const actual = await finalState(shuffled, customer);
        assert.deepEqual(actual, expected);
      },
    ),
    { numRuns: Number(Deno.env.get("ABUSE_RUNS") ?? 60) },
  );
});

Deno.test("the same, split across two isolates in opposite orders, events delivered to both", async () => {
  await fc.assert(
    fc.asyncProperty(
      stories,
      async ([s, customer, inOrder, shuffled]) => {
        const expected = await finalState(inOrder, customer);
        // each event once on either isolate, and again on the other
        const both = [...shuffled, ...[...shuffled].reverse()];
        const actual = await finalState(both, customer, { isolates: 2 });
        assert.deepEqual(actual, expected);
        assertStripeMoney(s, actual);
      },
    ),
    { numRuns: Number(Deno.env.get("ABUSE_RUNS") ?? 25) },
  );
});

/** Every order of `items` (n! of them; n stays small here). */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest])
  );
}

Deno.test("a guest charge given its customer in the Dashboard after a refund: that customer's ledger, in every order", async () => {
  const customer = testId("cus"), ch = testId("ch");
  // Stripe lets a charge's customer be set once, when it has none (charge.updated)
  const charge = (who: string | null, refunds: Stripe.Refund[]) =>
    chargeObject({
      id: ch,
      payment_intent: null,
      amount: 5000,
      customer: who,
      created: T0,
      amount_refunded: refunds.reduce((n, r) => n + r.amount, 0),
      refunds,
    });
  const re = refundObject({ charge: ch, payment_intent: null, amount: 1200, created: T0 + 60 });
  const events = [
    stripeEvent("charge.succeeded", charge(null, []), T0),
    stripeEvent("refund.created", re, T0 + 60),
    stripeEvent("charge.refunded", charge(null, [re]), T0 + 60),
    stripeEvent("charge.updated", charge(customer, [re]), T0 + 120, {
      previous: { customer: null },
    }),
  ];
  const expected = await finalState(events, customer);
  assert.equal(expected.txn.customer, customer);
  assert.equal(expected.txn.amount_refunded, 1200);
  assert.equal(expected.balance, 5000 - 1200);
  for (const order of permutations(events)) {
    const types = order.map((e) => e.type).join(", ");
    assert.deepEqual(await finalState(order, customer), expected, types);
  }
});
