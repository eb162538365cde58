/**
 * Refunding an alert's payments: through the refunds path (2FA, operator+,
 * the same threshold and second approver), each refund linked to the alert,
 * and a retry with the same Idempotency-Key moves no money again.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { authHeaders, createAdmin, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";

Deno.test("POST /fraud/alerts/{id}/refunds refunds each payment as fraudulent through the refund path", async () => {
  await withRefundWorld(async (w) => {
    const small = await w.pay(2_000);
    const large = await w.pay(60_000);
    const t = w.t;
    const sig = (x: string) => velocityHit(x, new Date().toISOString());
    const d = raiseDeps(t);
    const raised = await raiseAlerts(
      d,
      systemContext("test"),
      customerTarget("cus_x"),
      [sig(small.txnId), sig(large.txnId)],
      () => ({}),
    );
    const id = raised.alerts[0];
    const path = `/api/admin/payments/fraud/alerts/${id}/refunds`;

    const analyst = await createAdmin(t, "analyst");
    const denied = await t.app.request(
      path,
      jsonRequest("POST", otpHeaders(t, analyst), { note: "x" }),
    );
    assert.equal(denied.status, 403);
    const noOtp = await t.app.request(
      path,
      jsonRequest("POST", authHeaders(w.operator), { note: "x" }),
    );
    assert.equal(noOtp.status, 401);

    const headers = { ...otpHeaders(t, w.operator), "idempotency-key": "fraud-refund-1" };
    const res = await t.app.request(
      path,
      jsonRequest("POST", headers, { note: "card testing ring" }),
    );
    assert.equal(res.status, 200);
    const body = await res.json() as {
      results: {
        transaction_id: string;
        status: number;
        refund: { id: string; reason: string; fraud_alert_id: string; status: string };
      }[];
    };
    const byTxn = Object.fromEntries(body.results.map((r) => [r.transaction_id, r]));
    assert.equal(byTxn[small.txnId].status, 201, "sent to Stripe");
    assert.equal(byTxn[large.txnId].status, 202, "at the threshold: a second approver");
    assert.equal(byTxn[large.txnId].refund.status, "awaiting_approval");
    for (const r of body.results) {
      assert.equal(r.refund.reason, "fraudulent");
      assert.equal(r.refund.fraud_alert_id, id);
    }
    const again = await t.app.request(
      path,
      jsonRequest("POST", { ...otpHeaders(t, w.operator), "idempotency-key": "fraud-refund-1" }, {
        note: "card testing ring",
      }),
    );
    const body2 = await again.json() as typeof body;
    assert.deepEqual(
      body2.results.map((r) => r.refund.id).sort(),
      body.results.map((r) => r.refund.id).sort(),
    );
    const refunds = await w.stripe.refunds.list({ payment_intent: small.pi.id });
    assert.equal(refunds.data.length, 1, "money moved once");
    const alert = await t.services.fraud.getAlert(id);
    assert.deepEqual(alert.refunds.sort(), body.results.map((r) => r.refund.id).sort());
  });
});
