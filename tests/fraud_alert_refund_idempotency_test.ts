/**
 * POST /fraud/alerts/{id}/refunds keeps the Idempotency-Key contract of the
 * other POSTs (README "A first session"; the OpenAPI document): the same key
 * and body replay the first answer with `Idempotent-Replayed: true` and
 * write nothing more; the same key with another body is a top-level 422
 * `idempotency_key_reused`; a request whose every refund was refused is
 * audited `denied`.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { withTestApp } from "./helpers/app.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { auditEntries, createAdmin, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { keys } from "../kv/keys.ts";
import { sha256Hex } from "../core/encoding.ts";

const BASE = "/api/admin/payments/fraud/alerts";

Deno.test("alert refunds: a replay answers the first answer, marked, with one audit entry; another body is 422", async () => {
  await withRefundWorld(async (w) => {
    const t = w.t;
    const small = await w.pay(2_000);
    const raised = await raiseAlerts(
      raiseDeps(t),
      systemContext("test"),
      customerTarget(small.customer),
      [velocityHit(small.txnId, new Date(t.clock.now()).toISOString())],
      () => ({}),
    );
    const id = raised.alerts[0];
    const send = (note: string) =>
      t.app.request(
        `${BASE}/${id}/refunds`,
        jsonRequest("POST", { ...otpHeaders(t, w.operator), "idempotency-key": "burst-1" }, {
          note,
        }),
      );
    const first = await send("stolen card burst");
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const body = await first.json();
    assert.equal(body.results[0].status, 201);

    const again = await send("stolen card burst");
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), body);

    const other = await send("a different note");
    assert.equal(other.status, 422);
    const problem = await other.json();
    assert.equal(problem.code, "idempotency_key_reused");
    assert.equal(problem.errors[0].path, "header.idempotency-key");

    const requested = (await auditEntries(t.kv)).filter((e) =>
      e.action === "fraud_alert.refunds_requested"
    );
    assert.equal(requested.length, 1, "the replay wrote nothing");
    assert.equal(requested[0].result, "ok");
    const refunds = await w.stripe.refunds.list({ payment_intent: small.pi.id });
    assert.equal(refunds.data.length, 1);

    // the process died after the request's commit, before its answer was kept: once the claim's
    // lease has run out, the key answers from what was done, and nothing is done twice
    const key = keys.idempotencyKey(
      w.operator.id,
      "POST /fraud/alerts/{id}/refunds",
      sha256Hex("burst-1"),
    );
    const claim = await t.kv.get<Record<string, unknown>>(key);
    assert.ok(claim.value?.resource_id, "bound in the request's commit");
    await t.kv.set(key, { ...claim.value, state: "in_flight", response: null, lease_until: 0 });
    const resumed = await send("stolen card burst");
    assert.equal(resumed.status, 200);
    assert.equal(resumed.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(
      (await resumed.json()).results.map((r: { refund: { id: string } }) => r.refund.id),
      body.results.map((r: { refund: { id: string } }) => r.refund.id),
    );
    const after = (await auditEntries(t.kv)).filter((e) =>
      e.action === "fraud_alert.refunds_requested"
    );
    assert.equal(after.length, 1);
    assert.equal((await w.stripe.refunds.list({ payment_intent: small.pi.id })).data.length, 1);
  });
});

Deno.test("alert refunds: a request whose every refund was refused is audited denied", async () => {
  await withTestApp(async (t) => {
    const operator = await createAdmin(t, "operator");
    const raised = await raiseAlerts(
      raiseDeps(t),
      systemContext("test"),
      customerTarget("cus_gone"),
      [velocityHit("txn_unknown", new Date(t.clock.now()).toISOString())],
      () => ({}),
    );
    const res = await t.app.request(
      `${BASE}/${raised.alerts[0]}/refunds`,
      jsonRequest("POST", otpHeaders(t, operator), { note: "refund them" }),
    );
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.results[0].status, 404);
    const requested = (await auditEntries(t.kv)).filter((e) =>
      e.action === "fraud_alert.refunds_requested"
    );
    assert.equal(requested.length, 1);
    assert.equal(requested[0].result, "denied");
  });
});

Deno.test("alert refunds: a resumed request that refunds a payment the first did not answers without Idempotent-Replayed", async () => {
  await withRefundWorld(async (w) => {
    const t = w.t;
    const first = await w.pay(2_000);
    const at = () => new Date(t.clock.now()).toISOString();
    const raise = (txnId: string) =>
      raiseAlerts(
        raiseDeps(t),
        systemContext("test"),
        customerTarget(first.customer),
        [velocityHit(txnId, at())],
        () => ({}),
      );
    const id = (await raise(first.txnId)).alerts[0];
    const send = () =>
      t.app.request(
        `${BASE}/${id}/refunds`,
        jsonRequest("POST", { ...otpHeaders(t, w.operator), "idempotency-key": "resume-1" }, {
          note: "stolen card burst",
        }),
      );
    const answered = await send();
    assert.equal(answered.status, 200);
    assert.equal((await answered.json()).results.length, 1);

    // the alert gets another payment, and the process dies after the request's commit, before
    // its answer was kept: the resume refunds the new payment now, so its answer is no replay
    const second = await w.pay(3_000);
    await raise(second.txnId);
    const key = keys.idempotencyKey(
      w.operator.id,
      "POST /fraud/alerts/{id}/refunds",
      sha256Hex("resume-1"),
    );
    const claim = await t.kv.get<Record<string, unknown>>(key);
    await t.kv.set(key, { ...claim.value, state: "in_flight", response: null, lease_until: 0 });
    const resumed = await send();
    assert.equal(resumed.status, 200);
    const results = (await resumed.json()).results as { transaction_id: string }[];
    assert.deepEqual(
      results.map((r) => r.transaction_id).sort(),
      [first.txnId, second.txnId].sort(),
    );
    assert.equal(resumed.headers.get("idempotent-replayed"), null, "it refunded a payment now");
    assert.equal((await w.stripe.refunds.list({ payment_intent: second.pi.id })).data.length, 1);
    assert.equal((await w.stripe.refunds.list({ payment_intent: first.pi.id })).data.length, 1);

    // the key now holds that answer: sent again, it is a replay
    const again = await send();
    assert.equal(again.headers.get("idempotent-replayed"), "true");
  });
});
