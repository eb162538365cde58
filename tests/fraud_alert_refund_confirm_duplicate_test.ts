/**
 * POST /fraud/alerts/{id}/refunds takes `confirm_duplicate` as POST /refunds
 * does (README "Fraud detection", Workflow): a payment the operator refunded
 * the same amount of minutes ago is refused `duplicate_suspected`, naming
 * `"confirm_duplicate": true` as the way on, and that body, on this route,
 * refunds it; without it (or with `false`) the guard holds.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { auditEntries, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";

const API = "/api/admin/payments";

Deno.test("alert refunds: the duplicate guard's named fix, confirm_duplicate, is one the route takes", async () => {
  await withRefundWorld(async (w) => {
    const t = w.t;
    const paid = await w.pay(1_000);
    const half = await t.app.request(
      `${API}/refunds`,
      jsonRequest("POST", otpHeaders(t, w.operator), {
        transaction_id: paid.txnId,
        amount: 500,
        reason: "requested_by_customer",
        note: "half",
      }),
    );
    assert.equal(half.status, 201, await half.clone().text());
    const raised = await raiseAlerts(
      raiseDeps(t),
      systemContext("test"),
      customerTarget(paid.customer),
      [velocityHit(paid.txnId, new Date(t.clock.now()).toISOString())],
      () => ({}),
    );
    const path = `${API}/fraud/alerts/${raised.alerts[0]}/refunds`;
    const send = async (body: Record<string, unknown>) => {
      const r = await t.app.request(path, jsonRequest("POST", otpHeaders(t, w.operator), body));
      return { status: r.status, body: await r.json() };
    };

    // the rest (500) is the same amount the operator refunded minutes ago: a suspected duplicate
    const first = await send({ note: "rest" });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.results[0].status, 409);
    assert.match(first.body.results[0].error, /^duplicate_suspected: .*"confirm_duplicate": true/);
    const unconfirmed = await send({ note: "rest", confirm_duplicate: false });
    assert.equal(unconfirmed.status, 200, JSON.stringify(unconfirmed.body));
    assert.equal(unconfirmed.body.results[0].status, 409, "false keeps the guard on");

    // the fix the message names, on this route
    const confirmed = await send({ note: "rest", confirm_duplicate: true });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    const [result] = confirmed.body.results;
    assert.equal(result.status, 201, JSON.stringify(result));
    assert.equal(result.refund.amount, 500);
    assert.equal(result.refund.reason, "fraudulent");
    assert.equal(result.refund.fraud_alert_id, raised.alerts[0]);
    const atStripe = await w.stripe.refunds.list({ payment_intent: paid.pi.id });
    assert.equal(atStripe.data.length, 2);

    // audited as POST /refunds audits it (the refund's own refund.create), and the alert's
    // request says it was confirmed
    const entries = await auditEntries(t.kv);
    const created = entries.filter((e) =>
      e.action === "refund.create" && e.result === "ok" && e.target?.id === result.refund.id
    );
    assert.equal(created.length, 1);
    const requested = entries.filter((e) => e.action === "fraud_alert.refunds_requested");
    assert.deepEqual(
      requested.map((e) => [e.result, (e.after as Record<string, unknown>).confirm_duplicate]),
      [["denied", undefined], ["denied", undefined], ["ok", true]],
    );
  });
});

Deno.test("alert refunds: confirm_duplicate must be a boolean; the same key with it added is another body", async () => {
  await withRefundWorld(async (w) => {
    const t = w.t;
    const paid = await w.pay(1_000);
    const raised = await raiseAlerts(
      raiseDeps(t),
      systemContext("test"),
      customerTarget(paid.customer),
      [velocityHit(paid.txnId, new Date(t.clock.now()).toISOString())],
      () => ({}),
    );
    const path = `${API}/fraud/alerts/${raised.alerts[0]}/refunds`;
    const headers = () => ({ ...otpHeaders(t, w.operator), "idempotency-key": "k-1" });
    const bad = await t.app.request(
      path,
      jsonRequest("POST", otpHeaders(t, w.operator), { note: "x", confirm_duplicate: "yes" }),
    );
    assert.equal(bad.status, 422);
    assert.equal((await bad.json()).errors[0].path, "body.confirm_duplicate");
    const first = await t.app.request(path, jsonRequest("POST", headers(), { note: "x" }));
    assert.equal(first.status, 200);
    await first.body?.cancel();
    const other = await t.app.request(
      path,
      jsonRequest("POST", headers(), { note: "x", confirm_duplicate: true }),
    );
    assert.equal(other.status, 422);
    assert.equal((await other.json()).code, "idempotency_key_reused");
    // false is the default: the same body as none
    const same = await t.app.request(
      path,
      jsonRequest("POST", headers(), { note: "x", confirm_duplicate: false }),
    );
    assert.equal(same.status, 200);
    assert.equal(same.headers.get("idempotent-replayed"), "true");
    await same.body?.cancel();
  });
});
