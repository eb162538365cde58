/**
 * A generated account for the fraud tests: ordinary customers (1–5 payments
 * each over 30 days, log-normal amounts around 40.00, 5% declines, a seeded
 * PRNG) and injected patterns, as the Stripe events ingest receives.
 */
import type Stripe from "stripe";
import { chargeEvent, customerObject, otherCard, stripeEvent } from "./stripe_objects.ts";

import { seededRandom as prng } from "./virtual_time.ts";

/** mulberry32: a small seeded PRNG. */
export { prng };

function normal(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(rnd() || 1e-12)) * Math.cos(2 * Math.PI * rnd());
}

export interface Stream {
  events: Stripe.Event[];
  ordinary: string[];
  injected: Record<string, string>;
  /** the card declined across customers */
  crossCard: string;
}

const HOUR = 3600;
const DAY = 24 * HOUR;

export function generateStream(end: number, seed = 42, ordinaryCount = 300): Stream {
  const rnd = prng(seed);
  const events: Stripe.Event[] = [];
  const customer = (id: string, created: number) =>
    events.push(stripeEvent("customer.created", customerObject({ id, created }), created));
  const pay = (
    cus: string,
    t: number,
    amount: number,
    o: { failed?: boolean; card?: { brand: string; last4: string; fingerprint: string } } = {},
  ) => {
    events.push(chargeEvent(cus, Math.floor(t), { ...o, amount }));
  };

  const ordinary: string[] = [];
  for (let i = 0; i < ordinaryCount; i++) {
    const id = `cus_ord${String(i).padStart(4, "0")}`;
    ordinary.push(id);
    customer(id, end - 60 * DAY);
    const card = otherCard(10_000 + i);
    const n = 1 + Math.floor(rnd() * 5);
    for (let k = 0; k < n; k++) {
      const t = end - rnd() * 30 * DAY;
      const amount = Math.max(100, Math.round(Math.exp(Math.log(4000) + 0.35 * normal(rnd))));
      pay(id, t, amount, { failed: rnd() < 0.05, card });
    }
  }

  const injected: Record<string, string> = {};
  // card testing: nine declines of one customer in two hours
  injected.failed_attempts = "cus_injCardtest";
  customer(injected.failed_attempts, end - 40 * DAY);
  for (let k = 0; k < 9; k++) {
    pay(injected.failed_attempts, end - 3 * DAY + k * 800, 100, {
      failed: true,
      card: otherCard(1),
    });
  }
  // velocity: eleven small payments in twenty minutes
  injected.velocity = "cus_injVelocity";
  customer(injected.velocity, end - 40 * DAY);
  for (let k = 0; k < 11; k++) {
    pay(injected.velocity, end - 2 * DAY + k * 110, 1500, { card: otherCard(2) });
  }
  // a customer created two hours before a 250.00 payment
  injected.new_customer_high_value = "cus_injNewhigh";
  customer(injected.new_customer_high_value, end - 5 * DAY);
  pay(injected.new_customer_high_value, end - 5 * DAY + 2 * HOUR, 25_000, { card: otherCard(3) });
  // churn: five cards in ten hours
  injected.payment_method_churn = "cus_injChurn";
  customer(injected.payment_method_churn, end - 40 * DAY);
  for (let k = 0; k < 5; k++) {
    pay(injected.payment_method_churn, end - 4 * DAY + k * 2 * HOUR, 3000, {
      card: otherCard(100 + k),
    });
  }
  // anomaly: four payments near 40.00, then 400.00
  injected.amount_anomaly = "cus_injAnomaly";
  customer(injected.amount_anomaly, end - 40 * DAY);
  for (const [k, a] of [3900, 4100, 4000, 4050].entries()) {
    pay(injected.amount_anomaly, end - 20 * DAY + k * 3 * DAY, a, { card: otherCard(4) });
  }
  pay(injected.amount_anomaly, end - 6 * DAY, 40_000, { card: otherCard(4) });
  // one card declined for three customers in a day
  const crossCard = otherCard(999);
  for (const [k, c] of ["cus_injX1", "cus_injX2", "cus_injX3"].entries()) {
    customer(c, end - 40 * DAY);
    pay(c, end - DAY + k * HOUR, 2000, { failed: true, card: crossCard });
  }
  events.sort((a, b) => a.created - b.created);
  return { events, ordinary, injected, crossCard: crossCard.fingerprint };
}
