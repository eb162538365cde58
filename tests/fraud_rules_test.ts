/**
 * Each rule at, below and above its thresholds, with windows measured from
 * the payment's own Stripe time (README "Fraud detection").
 */
import assert from "node:assert/strict";
import { defaultRuleSettings, type RuleSettings } from "../domain/fraud.ts";
import type { Attempt, FraudHistory, Mark } from "../domain/fraud_history.ts";
import {
  amountAnomaly,
  cardDeclinedAcrossCustomers,
  disputeHistory,
  earlyFraudWarning,
  failedAttempts,
  highValueBurst,
  newCustomerHighValue,
  paymentMethodChurn,
  robustZ,
  scoreOf,
  scoreRule,
  stripeRisk,
  velocity,
} from "../services/fraud/rules/mod.ts";

const T = Date.UTC(2026, 0, 10, 12, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const S = defaultRuleSettings();

let n = 0;
function att(t: number, o: Partial<Attempt> = {}): Attempt {
  n++;
  return {
    k: `ch_${n}`,
    x: `txn_${n}`,
    t,
    o: "s",
    a: 4000,
    c: "usd",
    f: `fp${n}`,
    r: null,
    u: 0,
    ...o,
  };
}

function hist(attempts: Attempt[], extra: Partial<FraudHistory> = {}): FraudHistory {
  return { subject: "cus_1", attempts, disputes: [], warnings: [], changed_at: 0, ...extra };
}

/** `count` attempts spread over `span` ms ending at T; the last is the one evaluated. */
function burst(count: number, span: number, o: (i: number) => Partial<Attempt>) {
  const list = Array.from(
    { length: count },
    (_, i) => att(T - span + (count === 1 ? span : (span * i) / (count - 1)), o(i)),
  );
  return { attempt: list.at(-1)!, history: hist(list) };
}

function run(
  rule: (i: never) => unknown,
  b: { attempt: Attempt; history: FraudHistory },
  s: RuleSettings,
  created: number | null = null,
) {
  return (rule as (
    i: unknown,
  ) =>
    | { level: string; points: number; severity: string; evidence: Record<string, unknown> }
    | null)({
      ...b,
      customerCreated: created,
      settings: s,
    });
}

Deno.test("payment_method_churn: 2 cards nothing, 3 watch (20), 5 alert (40), a 6th card 25 h earlier not counted", () => {
  const s = S.payment_method_churn;
  assert.equal(run(paymentMethodChurn, burst(2, HOUR, () => ({})), s), null);
  const w = run(paymentMethodChurn, burst(3, HOUR, () => ({})), s)!;
  assert.deepEqual([w.level, w.points], ["watch", 20]);
  assert.equal(run(paymentMethodChurn, burst(4, HOUR, () => ({})), s)!.level, "watch");
  const a = run(paymentMethodChurn, burst(5, 23 * HOUR, () => ({})), s)!;
  assert.deepEqual([a.level, a.points, a.severity], ["alert", 40, "high"]);
  assert.equal(a.evidence.distinct_cards, 5);
  // the same card again is one card
  assert.equal(run(paymentMethodChurn, burst(6, HOUR, () => ({ f: "same" })), s), null);
  // 5 cards, but the first 25 h before the payment: outside the window
  const b = burst(4, HOUR, () => ({}));
  b.history.attempts.unshift(att(T - 25 * HOUR));
  assert.equal(run(paymentMethodChurn, b, s)!.level, "watch");
});

Deno.test("high_value_burst: counts succeeded payments at or above 500.00 in 24 h; jpy 75000; other currencies off", () => {
  const s = S.high_value_burst;
  assert.equal(run(highValueBurst, burst(1, HOUR, () => ({ a: 50_000 })), s), null);
  assert.deepEqual(
    [
      run(highValueBurst, burst(2, HOUR, () => ({ a: 50_000 })), s)!.level,
      run(highValueBurst, burst(2, HOUR, () => ({ a: 50_000 })), s)!.points,
    ],
    ["watch", 15],
  );
  const a = run(highValueBurst, burst(3, HOUR, () => ({ a: 60_000 })), s)!;
  assert.deepEqual([a.level, a.points, a.severity], ["alert", 35, "medium"]);
  // 49,999 is below the amount
  assert.equal(
    run(highValueBurst, burst(3, HOUR, (i) => ({ a: i === 0 ? 49_999 : 50_000 })), s)!.level,
    "watch",
  );
  // declined high-value attempts do not count
  assert.equal(
    run(highValueBurst, burst(3, HOUR, (i) => ({ a: 50_000, o: i === 2 ? "s" : "f" })), s),
    null,
  );
  assert.equal(
    run(highValueBurst, burst(3, HOUR, () => ({ a: 75_000, c: "jpy" })), s)!.level,
    "alert",
  );
  assert.equal(run(highValueBurst, burst(3, HOUR, () => ({ a: 74_999, c: "jpy" })), s), null);
  assert.equal(run(highValueBurst, burst(3, HOUR, () => ({ a: 9_999_999, c: "chf" })), s), null);
  // 25 h apart: the first is outside the window
  assert.equal(run(highValueBurst, burst(3, 25 * HOUR, () => ({ a: 50_000 })), s)!.level, "watch");
});

Deno.test("velocity: payments of any outcome in 30 min: 6 nothing, 7 watch (25), 10 alert (50)", () => {
  const s = S.velocity;
  assert.equal(run(velocity, burst(6, 10 * MIN, () => ({})), s), null);
  assert.deepEqual([
    run(velocity, burst(7, 10 * MIN, () => ({ o: "f" })), s)!.level,
    run(velocity, burst(7, 10 * MIN, () => ({})), s)!.points,
  ], ["watch", 25]);
  assert.equal(run(velocity, burst(9, 29 * MIN, () => ({})), s)!.level, "watch");
  const a = run(velocity, burst(10, 29 * MIN, () => ({})), s)!;
  assert.deepEqual([a.level, a.points, a.severity], ["alert", 50, "high"]);
  // 10 payments over 31 minutes: the first falls out of the window
  assert.equal(run(velocity, burst(10, 31 * MIN, () => ({})), s)!.level, "watch");
});

Deno.test("failed_attempts: declines in 6 h, each failed charge counted: 4 nothing, 5 watch (15), 8 alert (30)", () => {
  const s = S.failed_attempts;
  const declines = (k: number, span = HOUR) => burst(k, span, () => ({ o: "f", x: "txn_same_pi" }));
  assert.equal(run(failedAttempts, declines(4), s), null);
  assert.deepEqual([
    run(failedAttempts, declines(5), s)!.level,
    run(failedAttempts, declines(5), s)!.points,
  ], ["watch", 15]);
  assert.equal(run(failedAttempts, declines(7), s)!.level, "watch");
  const a = run(failedAttempts, declines(8), s)!;
  assert.deepEqual([a.level, a.points, a.severity], ["alert", 30, "medium"]);
  assert.equal(a.evidence.declined_attempts, 8);
  assert.equal(run(failedAttempts, declines(8, 6 * HOUR + MIN), s)!.level, "watch");
  // evaluated at a succeeded payment: not a decline, no signal
  const ok = declines(8);
  ok.history.attempts.push(att(T, { o: "s" }));
  assert.equal(
    run(failedAttempts, { attempt: ok.history.attempts.at(-1)!, history: ok.history }, s),
    null,
  );
});

Deno.test("failed_attempts across customers: one card declined for 3 customers in 24 h is a high alert; 2 or 25 h apart are not", () => {
  const s = S.failed_attempts;
  const d = (customer: string, t: number) => ({
    customer,
    t,
    k: `ch_${customer}${t}`,
    x: `txn_${customer}`,
  });
  const three = [d("cus_a", T - 20 * HOUR), d("cus_b", T - HOUR), d("cus_c", T)];
  const sig = cardDeclinedAcrossCustomers("fpX", three[2], three, s)!;
  assert.deepEqual([sig.level, sig.severity], ["alert", "high"]);
  assert.deepEqual(sig.evidence.customers, ["cus_a", "cus_b", "cus_c"]);
  assert.equal(cardDeclinedAcrossCustomers("fpX", three[2], three.slice(1), s), null);
  const late = [d("cus_a", T - 25 * HOUR), d("cus_b", T - HOUR), d("cus_c", T)];
  assert.equal(cardDeclinedAcrossCustomers("fpX", late[2], late, s), null);
  // the same customer declined three times is one customer
  const same = [d("cus_a", T - 2), d("cus_a", T - 1), d("cus_a", T)];
  assert.equal(cardDeclinedAcrossCustomers("fpX", same[2], same, s), null);
});

Deno.test("new_customer_high_value: created within 24 h of the payment: 99.99 nothing, 100.00 watch (20), 200.00 alert (45)", () => {
  const s = S.new_customer_high_value;
  const at = (a: number, c = "usd") => ({ attempt: att(T, { a, c }), history: hist([]) });
  const created = T - 23 * HOUR;
  assert.equal(run(newCustomerHighValue, at(9_999), s, created), null);
  const w = run(newCustomerHighValue, at(10_000), s, created)!;
  assert.deepEqual([w.level, w.points], ["watch", 20]);
  const a = run(newCustomerHighValue, at(20_000), s, created)!;
  assert.deepEqual([a.level, a.points, a.severity], ["alert", 45, "medium"]);
  // measured from the payment, not now: a customer 25 h old at payment time is not new
  assert.equal(run(newCustomerHighValue, at(20_000), s, T - 25 * HOUR), null);
  assert.equal(run(newCustomerHighValue, at(30_000, "jpy"), s, created)!.level, "alert");
  assert.equal(run(newCustomerHighValue, at(29_999, "jpy"), s, created)!.level, "watch");
  assert.equal(run(newCustomerHighValue, at(14_999, "jpy"), s, created), null);
  assert.equal(run(newCustomerHighValue, at(10_000_000, "sek"), s, created), null);
  assert.equal(run(newCustomerHighValue, at(20_000), s, null), null);
});

Deno.test("amount_anomaly: robust z over >= 3 earlier payments, the MAD floored at 1% of the median, and 3x the median", () => {
  // the z thresholds alone (the ratio to the median is checked below)
  const s = { ...S.amount_anomaly, min_ratio: null };
  const with_ = (earlier: number[], a: number, o: Partial<Attempt> = {}) => {
    const list = earlier.map((x, i) => att(T - (i + 1) * DAY, { a: x }));
    const attempt = att(T, { a, ...o });
    return { attempt, history: hist([...list.reverse(), attempt]) };
  };
  // equal amounts: MAD 0 floored at 40 (1% of 4000), z = 0.6745 * d / 40
  const z = (d: number) => robustZ(4000 + d, [4000, 4000, 4000]).z;
  assert.equal(Math.round(z(40) * 1e4) / 1e4, 0.6745);
  assert.equal(
    run(amountAnomaly, with_([4000, 4000], 100_000), s),
    null,
    "only two earlier payments",
  );
  // z just below 4, at 4 (watch), at 5 (alert)
  const at4 = Math.ceil((4 * 40) / 0.6745);
  const at5 = Math.ceil((5 * 40) / 0.6745);
  assert.equal(run(amountAnomaly, with_([4000, 4000, 4000], 4000 + at4 - 1), s), null);
  const w = run(amountAnomaly, with_([4000, 4000, 4000], 4000 + at4), s)!;
  assert.deepEqual([w.level, w.points], ["watch", 10]);
  assert.equal(run(amountAnomaly, with_([4000, 4000, 4000], 4000 + at5 - 1), s)!.level, "watch");
  const a = run(amountAnomaly, with_([4000, 4000, 4000], 4000 + at5), s)!;
  assert.deepEqual([a.level, a.points, a.severity], ["alert", 25, "low"]);
  // by default the amount must also be 3 times the median: z is far above 5 either side
  const d = S.amount_anomaly;
  assert.equal(run(amountAnomaly, with_([4000, 4000, 4000], 11_999), d), null);
  const r = run(amountAnomaly, with_([4000, 4000, 4000], 12_000), d)!;
  assert.deepEqual([r.level, r.evidence.ratio_to_median], ["alert", 3]);
  // history older than 90 days does not count
  const old = with_([4000, 4000, 4000], 100_000);
  old.history.attempts[0].t = T - 91 * DAY;
  assert.equal(run(amountAnomaly, old, s), null);
  // declined earlier attempts are not history
  const declined = with_([4000, 4000, 4000], 100_000);
  declined.history.attempts[0].o = "f";
  assert.equal(run(amountAnomaly, declined, s), null);
});

Deno.test("stripe_risk: elevated is a watch (20), highest an alert (40, high), normal nothing", () => {
  const s = S.stripe_risk;
  const one = (r: string | null) => ({ attempt: att(T, { r }), history: hist([]) });
  assert.equal(run(stripeRisk, one("normal"), s), null);
  assert.deepEqual([
    run(stripeRisk, one("elevated"), s)!.level,
    run(stripeRisk, one("elevated"), s)!.points,
  ], ["watch", 20]);
  const a = run(stripeRisk, one("highest"), s)!;
  assert.deepEqual([a.level, a.points, a.severity], ["alert", 40, "high"]);
});

Deno.test("early_fraud_warning: an alert of its own, high, showing actionable", () => {
  const mark: Mark = { k: "issfr_1", x: "txn_1", t: T, d: "card_never_received:actionable", u: 0 };
  const s = earlyFraudWarning({ mark, history: hist([]), settings: S.early_fraud_warning })!;
  assert.deepEqual([s.level, s.severity, s.evidence.actionable, s.evidence.fraud_type], [
    "alert",
    "high",
    true,
    "card_never_received",
  ]);
});

Deno.test("dispute_history: 2 disputes in 90 days is an alert (30); 1, or 2 that are 91 days apart, nothing", () => {
  const s = S.dispute_history;
  const mk = (t: number, i: number): Mark => ({
    k: `du_${i}`,
    x: `txn_${i}`,
    t,
    d: "fraudulent",
    u: 0,
  });
  const two = [mk(T - 89 * DAY, 1), mk(T, 2)];
  const a = disputeHistory({ mark: two[1], history: hist([], { disputes: two }), settings: s })!;
  assert.deepEqual([a.level, a.points, a.severity], ["alert", 30, "medium"]);
  assert.equal(
    disputeHistory({ mark: two[1], history: hist([], { disputes: [two[1]] }), settings: s }),
    null,
  );
  const apart = [mk(T - 91 * DAY, 1), mk(T, 2)];
  assert.equal(
    disputeHistory({ mark: apart[1], history: hist([], { disputes: apart }), settings: s }),
    null,
  );
});

Deno.test("score: watch points of 24 h, one per rule and payment, capped at 100; 60 high, 80 critical", () => {
  const s = S.score;
  const hit = (rule: string, x: string, t: number, points: number) => ({ rule, x, t, points });
  const hits = [
    hit("velocity", "txn_a", T - HOUR, 25),
    hit("velocity", "txn_a", T - HOUR, 25), // the same rule and payment once
    hit("stripe_risk", "txn_a", T - HOUR, 20),
    hit("payment_method_churn", "txn_b", T - 25 * HOUR, 20), // outside 24 h
  ];
  assert.equal(scoreOf(hits, T, DAY), 45);
  const input = { attempt: att(T), history: hist([]), customerCreated: null, settings: s };
  assert.equal(scoreRule(input, hits), null);
  const at60 = [...hits, hit("failed_attempts", "txn_c", T, 15)];
  const h = scoreRule(input, at60)!;
  assert.deepEqual([h.level, h.severity, h.points], ["alert", "high", 60]);
  const at80 = [...at60, hit("new_customer_high_value", "txn_c", T, 20)];
  assert.deepEqual([scoreRule(input, at80)!.severity, scoreRule(input, at80)!.points], [
    "critical",
    80,
  ]);
  const over = [...at80, hit("velocity", "txn_d", T, 25), hit("velocity", "txn_e", T, 25)];
  assert.equal(scoreOf(over, T, DAY), 100);
});
