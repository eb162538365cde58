/**
 * README, "Disputes", Money: an inquiry closed without a chargeback leaves the
 * charge refundable, at Stripe and here: a won inquiry, and an inquiry accepted
 * through the workbench, close `warning_closed` with `is_charge_refundable: true`,
 * and a refund of the charge then goes through, even over a record stored with
 * Stripe's old `false`. A chargeback's 409 says once why and what to do instead.
 */
import assert from "node:assert/strict";
import { type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import { call, decideDispute, disputedPayment } from "./helpers/disputes.ts";
import { otpHeaders } from "./helpers/identity.ts";
import { getDispute } from "../kv/disputes.ts";
import { keys } from "../kv/keys.ts";

const ask = (transaction_id: string) => ({
  transaction_id,
  amount: 1000,
  reason: "requested_by_customer",
  note: "goodwill",
});

async function refundsAfter(w: RefundWorld, txnId: string, stripeDispute: string) {
  const atStripe = await w.stripe.disputes.retrieve(stripeDispute);
  assert.equal(atStripe.status, "warning_closed");
  assert.equal(atStripe.is_charge_refundable, true, "an inquiry's close leaves it refundable");
  const refund = await call(w, w.operator, "POST", "/refunds", ask(txnId), true);
  assert.equal(refund.status, 201, JSON.stringify(refund.body));
}

Deno.test("an inquiry closed without a chargeback (won) leaves the charge refundable", async () => {
  await withRefundWorld(async (w) => {
    const { txnId, dispute } = await disputedPayment(w, 4200, "pm_card_createDisputeInquiry");
    w.emu.resolveDispute(dispute.stripe_dispute, "won");
    await w.deliver();
    assert.equal((await w.t.services.disputes.get(dispute.id)).status, "warning_closed");
    await refundsAfter(w, txnId, dispute.stripe_dispute);
  });
});

Deno.test("an inquiry accepted in the workbench leaves the charge refundable", async () => {
  await withRefundWorld(async (w) => {
    const { txnId, dispute } = await disputedPayment(w, 4200, "pm_card_createDisputeInquiry");
    const accept = await w.t.app.request(`/api/admin/payments/disputes/${dispute.id}/accept`, {
      method: "POST",
      headers: { ...otpHeaders(w.t, w.operator), "content-type": "application/json" },
      body: JSON.stringify({ note: "not worth it" }),
    });
    assert.equal(accept.status, 200, await accept.text());
    await w.deliver();
    await refundsAfter(w, txnId, dispute.stripe_dispute);
  });
});

Deno.test("a closed inquiry stored with Stripe's old is_charge_refundable false does not block refunds", async () => {
  await withRefundWorld(async (w) => {
    const { txnId, dispute } = await disputedPayment(w, 4200, "pm_card_createDisputeInquiry");
    w.emu.resolveDispute(dispute.stripe_dispute, "won");
    await w.deliver();
    const entry = await getDispute(w.t.kv, dispute.id);
    await w.t.kv.set(keys.dispute(dispute.id), { ...entry.value!, is_charge_refundable: false });
    const refund = await call(w, w.operator, "POST", "/refunds", ask(txnId), true);
    assert.equal(refund.status, 201, JSON.stringify(refund.body));
  });
});

for (const outcome of ["won", "lost"] as const) {
  Deno.test(`a chargeback ${outcome}: the 409 says why once and what to do instead`, async () => {
    await withRefundWorld(async (w) => {
      const paid = await disputedPayment(w, 11_000);
      await decideDispute(w, w.operator, paid.dispute, outcome);
      const refused = await call(w, w.operator, "POST", "/refunds", ask(paid.txnId), true);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      const detail = refused.body.detail as string;
      assert.equal(detail.match(/refuses (every|any) refund/g)?.length, 1, detail);
      assert.doesNotMatch(detail, /whatever the dispute's outcome/);
      assert.match(
        detail,
        outcome === "won"
          ? /return money to the customer some other way than a refund of this charge/
          : /the customer already got the disputed amount back through the chargeback/,
      );
    });
  });
}
