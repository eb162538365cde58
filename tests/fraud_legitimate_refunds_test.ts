/**
 * An alert resolved `resolved_legitimate` refunds nothing as fraudulent
 * (README "Fraud detection": workflow): resolving it voids the refunds of its
 * payments still waiting for a second person (audited, named in the answer),
 * and a fraudulent refund answering it is refused when asked for or approved
 * afterwards, even one the resolution did not void (the process died between).
 */
import assert from "node:assert/strict";
import { approvalOf, withRefundWorld } from "./helpers/refunds.ts";
import { alertAwaitingRefund, alertOnLargePayment } from "./helpers/fraud_alert_refund.ts";
import {
  auditEntries,
  authHeaders,
  createAdmin,
  otpHeaders,
  sendJson,
} from "./helpers/identity.ts";
import type { FraudAlert } from "../domain/fraud.ts";
import { keys } from "../kv/keys.ts";

const BASE = "/api/admin/payments";

Deno.test("resolving an alert legitimate voids its fraudulent refunds awaiting approval; approval and new requests are 409", async () => {
  await withRefundWorld(async (w) => {
    const t = w.t;
    const { large, id, refundId } = await alertAwaitingRefund(w);

    const analyst = await createAdmin(t, "analyst");
    const h = authHeaders(analyst);
    const alertPath = `${BASE}/fraud/alerts/${id}`;
    assert.equal(
      (await sendJson(t, "PATCH", alertPath, h, { status: "investigating" })).status,
      200,
    );
    const resolved = await sendJson(t, "PATCH", alertPath, h, {
      status: "resolved_legitimate",
      note: "the customer confirmed the orders",
    });
    assert.equal(resolved.status, 200);
    assert.deepEqual(resolved.body.voided_refunds, [refundId], "the answer names what it voided");

    const refund = await t.services.refunds.get(refundId);
    assert.equal(refund.status, "rejected");
    assert.equal(refund.rejected_by, analyst.id);
    assert.match(refund.decision_note!, new RegExp(`${id}.*resolved_legitimate`));
    const voids = (await auditEntries(t.kv)).filter((e) =>
      e.action === "refund.void" && e.target?.id === refundId
    );
    assert.equal(voids.length, 1);
    assert.equal(voids[0].actor.id, analyst.id);

    const approved = await sendJson(
      t,
      "POST",
      `${BASE}/refunds/${refundId}/approve`,
      otpHeaders(t, w.operator2),
      await approvalOf(t, refundId),
    );
    assert.equal(approved.status, 409);
    const atStripe = await w.stripe.refunds.list({ payment_intent: large.pi.id });
    assert.equal(atStripe.data.length, 0, "nothing refunded as fraudulent");
    // a request racing the resolution is refused in its own commit too
    await assert.rejects(
      t.services.refunds.createForFraudAlert(w.ctx(w.operator), {
        transaction_id: large.txnId,
        note: "again",
        fraud_alert_id: id,
      }),
      (e: { code: string; message: string }) =>
        e.code === "conflict" && /resolved_legitimate/.test(e.message),
    );
  });
});

Deno.test("a fraudulent refund whose alert was resolved legitimate without voiding it is refused at approval and voided", async () => {
  await withRefundWorld(async (w) => {
    const t = w.t;
    const { large, id } = await alertOnLargePayment(w);
    const r = await t.services.refunds.createForFraudAlert(w.ctx(w.operator), {
      transaction_id: large.txnId,
      note: "stolen card",
      fraud_alert_id: id,
    });
    assert.equal(r.refund.status, "awaiting_approval");
    // the resolution's commit, and the process died before its voiding pass
    const entry = await t.kv.get<FraudAlert>(keys.fraudAlert(id));
    assert.ok(entry.value);
    await t.kv.set(keys.fraudAlert(id), { ...entry.value, status: "resolved_legitimate" });

    const approved = await sendJson(
      t,
      "POST",
      `${BASE}/refunds/${r.refund.id}/approve`,
      otpHeaders(t, w.operator2),
      { approval_hash: r.refund.approval.hash },
    );
    assert.equal(approved.status, 409);
    assert.match(approved.body.detail, new RegExp(`${id}.*resolved_legitimate`));
    assert.equal(approved.body.refund_status, "rejected");
    assert.equal((await t.services.refunds.get(r.refund.id)).status, "rejected");
    const entries = await auditEntries(t.kv);
    assert.ok(entries.some((e) => e.action === "refund.approve" && e.result === "denied"));
    assert.ok(entries.some((e) => e.action === "refund.void" && e.target?.id === r.refund.id));
    const atStripe = await w.stripe.refunds.list({ payment_intent: large.pi.id });
    assert.equal(atStripe.data.length, 0);
  });
});
