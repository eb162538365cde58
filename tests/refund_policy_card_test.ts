/**
 * One card is one payer, whatever the customer (README, "Refund approval
 * policy"): an operator's refunds on payments made with the same card (guest
 * payments with no customer, or the card under several customers) add up
 * toward the threshold as refunds on one payment do.
 */
import assert from "node:assert/strict";
import { type RefundWorld, statusOf, withRefundWorld } from "./helpers/refunds.ts";

/** A succeeded guest payment (no customer) with `card`, known to the app through its webhooks. */
async function guestPay(w: RefundWorld, amount: number, card = "pm_card_visa") {
  const pi = await w.stripe.paymentIntents.create({
    amount,
    currency: "usd",
    payment_method: card,
    confirm: true,
  });
  await w.deliver();
  return (await w.t.services.transactions.get(pi.id)).id;
}

function ask(w: RefundWorld, txnId: string, amount: number) {
  return w.t.services.refunds.create(w.ctx(w.operator, crypto.randomUUID()), {
    transaction_id: txnId,
    amount,
    reason: "requested_by_customer",
    note: "split across payments of one card",
  });
}

Deno.test("attack: refunds split across guest payments of one card add up to the threshold", async () => {
  await withRefundWorld(async (w) => {
    const first = await guestPay(w, 40000);
    const second = await guestPay(w, 40000);
    const txn = await w.t.services.transactions.get(first);
    assert.equal(txn.customer, null);
    assert.ok(txn.payment_method?.fingerprint, "the emulator's card has a fingerprint");
    assert.equal(statusOf(await ask(w, first, 30000)), 201);
    const split = await ask(w, second, 30000);
    assert.equal(statusOf(split), 202, "60,000 on one card reaches 50,000");
    assert.deepEqual(split.refund.approval.reasons, ["threshold"]);
    // another card is another payer
    const other = await guestPay(w, 40000, "pm_card_mastercard");
    assert.equal(statusOf(await ask(w, other, 30000)), 201);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "50000" } });
});

Deno.test("attack: refunds split across customers paying with one card add up to the threshold", async () => {
  await withRefundWorld(async (w) => {
    const a = await w.pay(40000);
    const b = await w.pay(40000);
    assert.notEqual(a.customer, b.customer);
    assert.equal(statusOf(await ask(w, a.txnId, 30000)), 201);
    assert.equal(statusOf(await ask(w, b.txnId, 30000)), 202);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "50000" } });
});
