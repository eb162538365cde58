/**
 * GET /transactions/{id} shows what was done about the payment (`activity`):
 * its retry attempts, refunds and disputes, through the emulator and the
 * official SDK, each with the id its own route takes.
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { askRefund } from "./helpers/refunds.ts";
import { disputedPayment } from "./helpers/disputes.ts";
import { authHeaders } from "./helpers/identity.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import type { TestApp } from "./helpers/app.ts";

interface Activity {
  refunds: { id: string; amount: number; status: string; requested_by: string }[];
  disputes: { id: string; phase: string; amount: number; evidence_due_by: string | null }[];
  retries: { id: string; status: string; failure_code: string | null }[];
}

async function activityOf(t: TestApp, as: TestAdmin, id: string): Promise<Activity> {
  const res = await t.app.request(`/api/admin/payments/transactions/${id}`, {
    headers: authHeaders(as),
  });
  assert.equal(res.status, 200);
  return (await res.json()).activity;
}

Deno.test("a transaction's detail lists its retries and refunds, oldest first; a new one changes its ETag", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    assert.deepEqual(await activityOf(w.t, w.operator, f.txnId), {
      refunds: [],
      disputes: [],
      retries: [],
    });
    const declined = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclined",
    });
    assert.equal(declined.body.status, "failed");
    w.clock.advance(1000);
    const paid = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(paid.body.status, "succeeded");
    const before = await w.t.app.request(`/api/admin/payments/transactions/${f.pi.id}`, {
      headers: authHeaders(w.operator),
    });
    const etag = before.headers.get("etag");
    await before.body?.cancel();

    w.clock.advance(1000);
    const refund = await askRefund(w, f.txnId, 1200, "part of the order returned");
    assert.equal(refund.refund.status, "succeeded");

    const a = await activityOf(w.t, w.operator, f.pi.id); // by the PaymentIntent id too
    assert.deepEqual(
      a.retries.map((r) => [r.id, r.status, r.failure_code]),
      [
        [declined.body.id, "failed", "card_declined"],
        [paid.body.id, "succeeded", null],
      ],
    );
    assert.deepEqual(a.refunds.map((r) => [r.id, r.amount, r.status, r.requested_by]), [
      [refund.refund.id, 1200, "succeeded", w.operator.id],
    ]);
    assert.deepEqual(a.disputes, []);

    const again = await w.t.app.request(`/api/admin/payments/transactions/${f.pi.id}`, {
      headers: { ...authHeaders(w.operator), "if-none-match": etag ?? "" },
    });
    assert.equal(again.status, 200, "the refund changed the detail: not a 304");
    await again.body?.cancel();
  });
});

Deno.test("a disputed payment's detail lists the dispute with its phase and deadline", async () => {
  await withRetryWorld(async (w) => {
    const { txnId, dispute } = await disputedPayment(w, 4200);
    const a = await activityOf(w.t, w.operator, txnId);
    assert.equal(a.disputes.length, 1);
    assert.equal(a.disputes[0].id, dispute.id);
    assert.equal(a.disputes[0].phase, "needs_response");
    assert.equal(a.disputes[0].amount, 4200);
    assert.equal(a.disputes[0].evidence_due_by, dispute.evidence_due_by);
    assert.deepEqual([a.refunds, a.retries], [[], []]);
  });
});
