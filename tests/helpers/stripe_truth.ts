/**
 * One payment at Stripe (the emulator's objects, read through the SDK) against
 * what the service shows for it: the transaction, its customer's ledger and
 * balance, its refund records and disputes, to the cent (README "Transactions
 * and money edges"). For PaymentIntents and for charges made without one.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { allLedgerEntries, listBalances } from "../../kv/customers.ts";
import { listTransactionRefunds } from "../../kv/refunds.ts";
import type { TestApp } from "./app.ts";

/** A payment as Stripe knows it: its PaymentIntent (null for a legacy charge) and its charge. */
export interface Payment {
  customer: string;
  pi: string | null;
  charge: string;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
/** Refund statuses Stripe counts in a charge's amount_refunded. */
const counts = (r: Stripe.Refund) => r.status === "pending" || r.status === "succeeded";

/** Stripe's side of the payment, from its objects. */
export async function stripeSide(stripe: Stripe, p: Payment) {
  const charges = p.pi
    ? (await stripe.charges.list({ payment_intent: p.pi, limit: 100 })).data
    : [await stripe.charges.retrieve(p.charge)];
  const pi = p.pi ? await stripe.paymentIntents.retrieve(p.pi) : null;
  const refunds: Stripe.Refund[] = [];
  const disputes: Stripe.Dispute[] = [];
  const warnings: Stripe.Radar.EarlyFraudWarning[] = [];
  for (const c of charges) {
    refunds.push(...(await stripe.refunds.list({ charge: c.id, limit: 100 })).data);
    disputes.push(...(await stripe.disputes.list({ charge: c.id, limit: 100 })).data);
    warnings.push(...(await stripe.radar.earlyFraudWarnings.list({ charge: c.id })).data);
  }
  // Stripe lists reviews by date only
  const ids = new Set(charges.map((c) => c.id));
  const reviews = (await stripe.reviews.list({ limit: 100 })).data
    .filter((r) => ids.has(r.charge as string));
  const captured = sum(
    charges.filter((c) => c.status === "succeeded" && c.captured)
      .map((c) => c.amount_captured),
  );
  const refunded = sum(refunds.filter(counts).map((r) => r.amount));
  // Stripe's own figure agrees: a charge's amount_refunded, less what a partial capture (or
  // a release) gave back without a refund object
  const released = (c: Stripe.Charge) =>
    c.captured ? c.amount - c.amount_captured : c.amount_refunded;
  assert.equal(sum(charges.map((c) => c.amount_refunded - released(c))), refunded, "emulator");
  const bts = disputes.flatMap((d) => d.balance_transactions);
  // (0 - x, not -x: an empty sum must compare equal to 0, not -0)
  const withdrawn = 0 - sum(bts.map((b) => b.amount));
  const held = charges.filter((c) => c.status === "succeeded" && !c.captured && !c.refunded);
  const capturable = pi ? pi.amount_capturable : sum(held.map((c) => c.amount));
  const latest = [...disputes].sort((a, b) => a.created - b.created).at(-1);
  return {
    charges,
    pi,
    refunds,
    disputes,
    warnings,
    reviews,
    captured,
    refunded,
    withdrawn,
    capturable,
    latest,
  };
}

/**
 * Asserts the service's picture of `p` equals Stripe's; returns the transaction
 * without what differs between two apps (its id, when written).
 */
export async function assertPaymentMatchesStripe(stripe: Stripe, t: TestApp, p: Payment) {
  const s = await stripeSide(stripe, p);
  const txn = await t.services.transactions.get(p.pi ?? p.charge);
  assert.equal(txn.customer, p.customer, "the payment's customer");
  assert.equal(txn.amount_captured, s.captured, "transaction captured == Stripe");
  assert.equal(txn.amount_refunded, s.refunded, "transaction refunded == Stripe");
  assert.equal(txn.amount_reserved, 0, "nothing reserved after quiescence");
  assert.equal(txn.amount_disputed, s.withdrawn, "transaction disputed == Stripe");
  assert.equal(txn.amount_capturable, s.capturable, "transaction capturable == Stripe");
  if (s.pi) {
    assert.equal(txn.status === "failed" ? "requires_payment_method" : txn.status, s.pi.status);
  }
  const lpe = s.pi?.status === "requires_payment_method" ? s.pi.last_payment_error : null;
  if (lpe) {
    // a failure's codes are its latest attempt's, all from that one attempt
    const codes = [txn.failure_code, txn.decline_code, txn.advice_code];
    const advice = (lpe as { advice_code?: string }).advice_code ?? null;
    assert.deepEqual(codes, [lpe.code ?? null, lpe.decline_code ?? null, advice], "failure");
  }
  assert.equal(txn.dispute_status, s.latest?.status ?? null, "the latest dispute's status");
  const shown = txn.risk_signals.early_fraud_warnings.map((w) => [w.id, w.actionable]);
  assert.deepEqual(shown.sort(), s.warnings.map((w) => [w.id, w.actionable]).sort(), "warnings");
  const reviewed = txn.risk_signals.reviews.map((r) => [r.id, r.open, r.closed_reason]);
  const reviews = s.reviews.map((r) => [r.id, r.open, r.closed_reason]);
  assert.deepEqual(reviewed.sort(), reviews.sort(), "reviews");

  const ledger = (await allLedgerEntries(t.kv, p.customer)).filter((e) =>
    e.transaction_id === txn.id
  );
  const by = (...types: string[]) =>
    sum(ledger.filter((e) => types.includes(e.type)).map((e) => e.amount));
  assert.equal(by("payment"), s.captured, "ledger payments == Stripe");
  assert.equal(by("refund", "refund_reversal"), 0 - s.refunded, "ledger refunds == Stripe");
  assert.equal(
    by("dispute_withdrawal", "dispute_reinstatement"),
    0 - s.withdrawn,
    "ledger disputes == Stripe",
  );
  assert.equal(by("reassignment"), 0, "nothing reassigned: the payment had one customer");
  const balance = (await listBalances(t.kv, p.customer)).find((b) => b.currency === txn.currency);
  assert.equal(balance?.amount ?? 0, s.captured - s.refunded - s.withdrawn, "balance == Stripe");
  assert.equal(balance?.entries ?? 0, ledger.length, "balance counts every ledger entry");

  const records = await listTransactionRefunds(t.kv, txn.id);
  for (const re of s.refunds) {
    const rec = records.filter((r) => r.stripe_refund === re.id);
    assert.equal(rec.length, 1, `one refund record for ${re.id}`);
    assert.equal(rec[0].amount, re.amount, `${re.id} amount`);
    assert.equal(rec[0].stripe_status, re.status, `${re.id} status`);
  }
  assert.equal(records.length, s.refunds.length, "no refund record Stripe does not have");
  for (const du of s.disputes) {
    const d = await t.services.disputes.get(du.id);
    assert.equal(d.status, du.status, `${du.id} status`);
    assert.equal(d.amount, du.amount, `${du.id} amount`);
    assert.equal(d.fee, sum(du.balance_transactions.map((b) => b.fee)), `${du.id} fee`);
  }
  const { id: _id, updated_at: _u, ...rest } = txn;
  return rest;
}
