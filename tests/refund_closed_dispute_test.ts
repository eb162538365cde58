/**
 * A chargeback leaves the charge not refundable at Stripe whatever its outcome
 * (`is_charge_refundable: false` on a won or lost dispute too): a refund of it
 * is refused here as a decision, before Stripe is called (README, "Disputes",
 * Money), and audited denied; nothing is recorded failed. A dispute record
 * stored without `is_charge_refundable` is read as before: blocking while open,
 * not once closed (Stripe's refusal then answers: dispute_workbench_test.ts).
 */
import assert from "node:assert/strict";
import { type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import { call, decideDispute, disputedPayment, submitAs } from "./helpers/disputes.ts";
import { auditEntries } from "./helpers/identity.ts";
import { getDispute } from "../kv/disputes.ts";
import { keys } from "../kv/keys.ts";

const ask = (transaction_id: string, amount: number) => ({
  transaction_id,
  amount,
  reason: "requested_by_customer",
  note: "goodwill",
});

async function closedChargeback(w: RefundWorld, outcome: "won" | "lost") {
  const paid = await disputedPayment(w, 11_000);
  await decideDispute(w, w.operator, paid.dispute, outcome);
  return paid;
}

for (const outcome of ["won", "lost"] as const) {
  Deno.test(`a chargeback ${outcome}: a refund is 409 charge_not_refundable before Stripe is called`, async () => {
    await withRefundWorld(async (w) => {
      const { pi, txnId, dispute } = await closedChargeback(w, outcome);
      const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
      assert.equal(atStripe.status, outcome);
      assert.equal(atStripe.is_charge_refundable, false, "Stripe keeps a chargeback's charge");
      const shown = await w.t.services.disputes.get(dispute.id);
      assert.equal(shown.is_charge_refundable, false);
      const since = (await auditEntries(w.t.kv)).length;
      for (const amount of [1000, 999_999]) {
        const refused = await call(w, w.operator, "POST", "/refunds", ask(txnId, amount), true);
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.equal(refused.body.code, "charge_not_refundable");
        assert.equal(refused.body.refund_id, undefined, "nothing recorded failed");
        assert.equal(refused.body.dispute_id, dispute.id);
        assert.equal(refused.body.dispute_status, outcome);
        assert.ok(refused.body.detail.includes(dispute.stripe_dispute), refused.body.detail);
        assert.match(refused.body.detail, new RegExp(`, ${outcome}\\)`));
        assert.match(refused.body.detail, /not refundable/);
      }
      assert.equal((await w.stripe.refunds.list({ payment_intent: pi.id })).data.length, 0);
      const refunds = await call(w, w.operator, "GET", `/refunds?transaction_id=${txnId}`);
      assert.deepEqual(refunds.body.data, []);
      const txn = await w.t.services.transactions.get(txnId);
      assert.equal(txn.amount_reserved, 0);
      const denied = (await auditEntries(w.t.kv)).slice(since).filter((e) => e.result === "denied");
      assert.deepEqual(
        denied.map((e) => [e.action, e.target?.id, (e.after as { currency: string }).currency]),
        [["refund.create", txnId, "usd"], ["refund.create", txnId, "usd"]],
      );
    });
  });
}

/** The dispute record as stored before `is_charge_refundable` was read on closed disputes. */
async function withoutRefundableField(w: RefundWorld, disputeId: string) {
  const entry = await getDispute(w.t.kv, disputeId);
  const { is_charge_refundable: _, ...legacy } = entry.value!;
  await w.t.kv.set(keys.dispute(disputeId), legacy);
}

Deno.test("an open chargeback stored without is_charge_refundable still blocks refunds", async () => {
  await withRefundWorld(async (w) => {
    const { txnId, dispute } = await disputedPayment(w);
    await withoutRefundableField(w, dispute.id);
    const refused = await call(w, w.operator, "POST", "/refunds", ask(txnId, 1000), true);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.code, "charge_not_refundable");
    assert.equal(refused.body.refund_id, undefined);
    assert.equal(refused.body.dispute_id, dispute.id);
  });
});

Deno.test("a refund refused during a chargeback advises by the dispute's state: respond or accept, then wait for the network", async () => {
  await withRefundWorld(async (w) => {
    const { txnId, dispute } = await disputedPayment(w, 11_000);
    const refuse = async () => {
      const refused = await call(w, w.operator, "POST", "/refunds", ask(txnId, 1000), true);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.code, "charge_not_refundable");
      return refused.body.detail as string;
    };
    const open = await refuse();
    assert.match(open, /needs_response\) is open: respond to or accept the dispute instead/);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, { customer_name: "A" });
    assert.equal((await submitAs(w, w.operator, dispute.id)).status, 200);
    assert.equal((await w.t.services.disputes.get(dispute.id)).status, "under_review");
    const deciding = await refuse();
    assert.doesNotMatch(deciding, /respond to or accept/);
    assert.match(deciding, /under_review\)/);
    assert.match(deciding, /the card network is deciding it: wait for its decision/);
    assert.match(deciding, /won, the funds come back/);
    assert.match(deciding, /lost, the customer already got the disputed amount back/);
  });
});
