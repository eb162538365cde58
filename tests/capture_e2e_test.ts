/**
 * Manual capture end to end: the emulator authorizes, captures in part, and
 * tells the service through signed webhooks (in order, or in reverse); the
 * transaction shows what was captured and only that can be refunded.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { AppError } from "../core/errors.ts";
import { allLedgerEntries } from "../kv/customers.ts";
import { authorizeAtStripe, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import type { RefundWorld } from "./helpers/refunds.ts";

function authorize(w: RefundWorld, amount: number) {
  return authorizeAtStripe(w.stripe, amount, "capture@example.com");
}

function ask(w: RefundWorld, txnId: string, amount?: number) {
  return w.t.services.refunds.create(w.ctx(w.operator), {
    transaction_id: txnId,
    ...(amount === undefined ? {} : { amount }),
    reason: "requested_by_customer",
    note: "customer asked",
    confirm_duplicate: true,
  });
}

for (const order of ["in order", "in reverse"] as const) {
  Deno.test(`capture: a partial capture of 600 out of 1000 is what can be refunded (webhooks ${order})`, async () => {
    await withRefundWorld(async (w) => {
      const pick = order === "in order" ? undefined : (h: unknown[]) => [...h].reverse();
      const { pi, customer } = await authorize(w, 1000);
      await w.deliver(pick as never);
      let txn = await w.t.services.transactions.get(pi.id);
      assert.equal(txn.status, "requires_capture");
      assert.equal(txn.amount_capturable, 1000);
      assert.equal(txn.amount_captured, 0);
      await assert.rejects(
        ask(w, txn.id, 100),
        (e) => e instanceof AppError && e.code === "conflict",
      );

      await w.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 600 });
      await w.deliver(pick as never);
      txn = await w.t.services.transactions.get(pi.id);
      assert.equal(txn.status, "succeeded");
      assert.equal(txn.amount, 1000);
      assert.equal(txn.amount_captured, 600);
      assert.equal(txn.amount_capturable, 0);
      assert.equal(
        txn.amount_refunded,
        0,
        "the released 400 was never captured, so never refunded",
      );
      const ledger = await allLedgerEntries(w.t.kv, customer);
      assert.deepEqual(ledger.map((e) => [e.type, e.amount]), [["payment", 600]]);

      await assert.rejects(ask(w, txn.id, 700), (e) => {
        assert.ok(e instanceof AppError);
        assert.equal(e.code, "amount_exceeds_refundable");
        assert.equal(e.extra?.refundable, 600);
        return true;
      });
      const all = await ask(w, txn.id);
      assert.equal(all.refund.amount, 600, "everything refundable is what was captured");
      await w.deliver(pick as never);
      txn = await w.t.services.transactions.get(pi.id);
      assert.equal(txn.amount_refunded, 600);
      assert.ok(txn.amount_refunded <= txn.amount_captured);
      assert.equal(txn.amount_reserved, 0);
      const stripe = await stripeRefunds(w.stripe, pi as Stripe.PaymentIntent);
      assert.equal(stripe.refunds.reduce((n, r) => n + r.amount, 0), 600);
      const after = await allLedgerEntries(w.t.kv, customer);
      assert.equal(after.reduce((n, e) => n + e.amount, 0), 0);
    });
  });
}
