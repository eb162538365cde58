/**
 * The refund approval policy cannot be split: the same operator's refunds on
 * one payment or customer add up to the threshold over 24 h, the daily cap is
 * on by default, `0` means zero, and amounts are per currency.
 */
import assert from "node:assert/strict";
import { AppError } from "../core/errors.ts";
import { amountFor, parseConfig } from "../config.ts";
import { approvalReasons, type PriorRefund } from "../services/refunds/policy.ts";
import { type RefundWorld, statusOf, withRefundWorld } from "./helpers/refunds.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { createServices } from "../services/mod.ts";

function ask(w: RefundWorld, by: TestAdmin, txnId: string, amount: number, extra = {}) {
  return w.t.services.refunds.create(w.ctx(by, crypto.randomUUID()), {
    transaction_id: txnId,
    amount,
    reason: "requested_by_customer",
    note: "split attempt",
    ...extra,
  });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (e) => e);
  assert.ok(e instanceof AppError, `expected an AppError, got ${e}`);
  return e.code;
}

Deno.test("attack: 49,999 twice on one payment with fresh Idempotency-Keys is a duplicate, then needs approval", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(200000);
    const first = await ask(w, w.operator, pay.txnId, 49999);
    assert.equal(statusOf(first), 201);
    // a new key is not a confirmation
    assert.equal(await codeOf(ask(w, w.operator, pay.txnId, 49999)), "duplicate_suspected");
    const second = await ask(w, w.operator, pay.txnId, 49999, { confirm_duplicate: true });
    assert.equal(statusOf(second), 202);
    assert.deepEqual(second.refund.approval.reasons, ["threshold"]);
    const third = await ask(w, w.operator, pay.txnId, 10);
    assert.equal(statusOf(third), 202, "one cent more is still over the threshold");
    // another operator starts from zero; after 24 h the window is empty again
    assert.equal(statusOf(await ask(w, w.operator2, pay.txnId, 20000)), 201);
    w.clock.advance(24 * 3600_000 + 1);
    assert.equal(statusOf(await ask(w, w.operator, pay.txnId, 20000)), 201);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "50000" } });
});

Deno.test("attack: a burst of split refunds by one operator never sends the threshold without approval", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(200000);
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        ask(w, w.operator, pay.txnId, 20000 + i, { confirm_duplicate: true })
      ),
    );
    const sent = results.filter((r) => statusOf(r) === 201);
    assert.equal(sent.length, 2, "only the first two stay under 50,000 together");
    assert.ok(sent.reduce((n, r) => n + r.refund.amount, 0) < 50000);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "50000" } });
});

Deno.test("attack: splitting a refund across two processes (isolates) still adds up to the threshold", async () => {
  await withRefundWorld(async (w) => {
    // another isolate on the same KV: its own services, its own kept policy rows
    const other = createServices(w.t.deps);
    const askOn = (refunds: typeof other.refunds, amount: number) =>
      refunds.create(w.ctx(w.operator, crypto.randomUUID()), {
        transaction_id: pay.txnId,
        amount,
        reason: "requested_by_customer",
        note: "split across isolates",
      });
    const pay = await w.pay(200000);
    assert.equal(statusOf(await askOn(w.t.services.refunds, 20001)), 201);
    assert.equal(statusOf(await askOn(other.refunds, 20002)), 201, "40,003: under 50,000");
    // this process kept its rows from before the other's refund; it must still count it
    const third = await askOn(w.t.services.refunds, 10000);
    assert.equal(statusOf(third), 202, "50,003 reaches the threshold");
    assert.deepEqual(third.refund.approval.reasons, ["threshold"]);
    const fourth = await askOn(other.refunds, 9000);
    assert.equal(statusOf(fourth), 202, "the other isolate counts this one's refunds too");
  }, { env: { REFUND_APPROVAL_THRESHOLD: "50000" } });
});

Deno.test("the daily cap is on by default at ten times the threshold, and 0 means zero", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const r = await ask(w, w.operator, pay.txnId, 100);
    assert.equal(statusOf(r), 202);
    assert.deepEqual(r.refund.approval.reasons, ["daily_cap"]);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "50000", REFUND_DAILY_CAP_PER_OPERATOR: "0" } });
});

Deno.test("approvalReasons() adds up one operator's refunds on the payment, the customer or the card, per currency", () => {
  const prior = (p: Partial<PriorRefund>): PriorRefund => ({
    transaction_id: "txn_a",
    customer: "cus_1",
    card: null,
    amount: 30000,
    currency: "usd",
    status: "succeeded",
    ...p,
  });
  const refund = {
    amount: 20000,
    currency: "usd",
    transaction_id: "txn_b",
    customer: "cus_1",
    card: null,
  };
  const limits = { threshold: 50000, cap: 500000 };
  assert.deepEqual(approvalReasons(refund, [prior({})], limits), ["threshold"], "same customer");
  assert.deepEqual(approvalReasons(refund, [prior({ customer: "cus_2" })], limits), []);
  assert.deepEqual(approvalReasons(refund, [prior({ currency: "eur" })], limits), []);
  assert.deepEqual(approvalReasons(refund, [prior({ status: "rejected" })], limits), []);
  assert.deepEqual(
    approvalReasons({ ...refund, customer: null }, [prior({ transaction_id: "txn_b" })], limits),
    ["threshold"],
    "same payment",
  );
  // one card is one payer: guest payments (no customer), or the card under another customer
  const guest = { ...refund, customer: null, card: "fp_1" };
  assert.deepEqual(approvalReasons(guest, [prior({ customer: null, card: "fp_1" })], limits), [
    "threshold",
  ], "same card");
  assert.deepEqual(approvalReasons(guest, [prior({ card: "fp_1" })], limits), ["threshold"]);
  assert.deepEqual(approvalReasons(guest, [prior({ customer: null, card: "fp_2" })], limits), []);
  assert.deepEqual(approvalReasons(guest, [prior({ customer: null })], limits), []);
  // the default cap: ten times the threshold, all of the operator's refunds in the currency
  const many = Array.from(
    { length: 10 },
    (_, i) => prior({ customer: `cus_${i + 10}`, amount: 49000 }),
  );
  assert.deepEqual(approvalReasons(refund, many, { threshold: 50000, cap: 500000 }), [
    "daily_cap",
  ]);
});

Deno.test("REFUND_APPROVAL_THRESHOLD and REFUND_DAILY_CAP_PER_OPERATOR take per-currency maps", () => {
  const c = parseConfig({
    REFUND_APPROVAL_THRESHOLD: "default=50000,jpy=75000",
    REFUND_DAILY_CAP_PER_OPERATOR: "usd=100000",
  });
  assert.equal(amountFor(c.refundApprovalThresholds, "jpy"), 75000);
  assert.equal(amountFor(c.refundApprovalThresholds, "eur"), 50000);
  assert.equal(amountFor(c.refundDailyCaps!, "usd"), 100000);
  assert.equal(amountFor(c.refundDailyCaps!, "eur"), 0, "no default: every amount needs approval");
  const one = parseConfig({ REFUND_APPROVAL_THRESHOLD: "1000" });
  assert.equal(amountFor(one.refundApprovalThresholds, "gbp"), 1000);
  assert.equal(one.refundDailyCaps, null, "unset: ten times the threshold");
  const noDefault = parseConfig({ REFUND_APPROVAL_THRESHOLD: "jpy=75000" });
  assert.equal(amountFor(noDefault.refundApprovalThresholds, "usd"), 0);
  assert.throws(
    () => parseConfig({ REFUND_APPROVAL_THRESHOLD: "usd=lots" }),
    /REFUND_APPROVAL_THRESHOLD must be a whole number/,
  );
});
