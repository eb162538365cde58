/**
 * A refund asked for from a fraud alert is listed on the alert from the
 * commit that records it (README "Fraud detection": workflow, "the alert
 * linked on each refund"), not only when the whole request ends: a process
 * that dies after Stripe refunded the first payment leaves the refund on the
 * alert all the same, and asking again (without the key) refunds nothing twice.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { ProcessDeath } from "./helpers/faults.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { systemContext } from "../domain/actor.ts";
import { listTransactionRefunds } from "../kv/refunds.ts";

Deno.test("a refund of a fraud alert's payment is on the alert even when the request died after Stripe refunded", async () => {
  await withRefundWorld(async (w) => {
    const a = await w.pay(2000);
    const b = await w.pay(3000);
    const at = new Date(w.clock.now()).toISOString();
    const raised = await raiseAlerts(
      raiseDeps(w.t),
      systemContext("test"),
      customerTarget("cus_x"),
      [velocityHit(a.txnId, at), velocityHit(b.txnId, at)],
      () => ({}),
    );
    const alertId = raised.alerts[0];
    w.hooks.afterStripeCall = () => {
      w.hooks.afterStripeCall = undefined;
      throw new ProcessDeath();
    };
    const fraud = w.t.services.fraud;
    await assert.rejects(
      fraud.refundAlert(w.ctx(w.operator), alertId, { note: "ring" }),
      ProcessDeath,
    );
    await w.deliver();
    await w.runJobs();
    w.clock.advance(61_000);
    await w.t.services.refunds.reconcile({ olderThanMs: 0 });

    const [first] = await listTransactionRefunds(w.t.kv, a.txnId);
    assert.equal(first.status, "succeeded");
    assert.ok((await fraud.getAlert(alertId)).refunds.includes(first.id), "listed on the alert");

    // asked again: the first payment is not refunded twice, the second is, both listed
    const again = await fraud.refundAlert(w.ctx(w.operator), alertId, { note: "ring" });
    const [refused, made] = again.results;
    assert.match(String(refused.error), /^amount_exceeds_refundable/, "nothing left to refund");
    assert.equal(made.status, 201);
    const refunds = (await fraud.getAlert(alertId)).refunds;
    const [second] = await listTransactionRefunds(w.t.kv, b.txnId);
    assert.deepEqual(refunds.toSorted(), [first.id, second.id].toSorted());
    assert.equal((await w.stripe.refunds.list({ payment_intent: a.pi.id })).data.length, 1);
  });
});
