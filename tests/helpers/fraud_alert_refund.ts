/**
 * A fraud alert on a 600.00 payment (a velocity hit) whose refund, asked for
 * through the alert by the world's operator, awaits a second person.
 */
import assert from "node:assert/strict";
import type { RefundWorld } from "./refunds.ts";
import { customerTarget, raiseDeps, velocityHit } from "./fraud.ts";
import { otpHeaders, sendJson } from "./identity.ts";
import { systemContext } from "../../domain/actor.ts";
import { raiseAlerts } from "../../services/fraud/alerts.ts";

/** A 60,000 payment and an alert raised on it (`id`). */
export async function alertOnLargePayment(w: RefundWorld) {
  const large = await w.pay(60_000);
  const raised = await raiseAlerts(
    raiseDeps(w.t),
    systemContext("test"),
    customerTarget(large.customer),
    [velocityHit(large.txnId, new Date(w.t.clock.now()).toISOString())],
    () => ({}),
  );
  return { large, id: raised.alerts[0] };
}

/** That alert with its refund asked for by `w.operator` through the API (`refundId`). */
export async function alertAwaitingRefund(w: RefundWorld) {
  const { large, id } = await alertOnLargePayment(w);
  const asked = await sendJson(
    w.t,
    "POST",
    `/api/admin/payments/fraud/alerts/${id}/refunds`,
    otpHeaders(w.t, w.operator),
    { note: "stolen card burst" },
  );
  assert.equal(asked.status, 200);
  const refundId = asked.body.results[0].refund.id as string;
  assert.equal(asked.body.results[0].refund.status, "awaiting_approval");
  return { large, id, refundId };
}
