/**
 * A capture or cancel Stripe answers with a 429 (`rate_limit`, `lock_timeout`)
 * after the gateway's own retries was not acted on: the action is closed as
 * not done (audited `failed`), the payment freed, nothing left for
 * reconciliation, and the answer is 503 `stripe_unavailable` with Retry-After
 * (README "Retrying failed payments", Authorizations). The same request, or
 * the same Idempotency-Key, then does it once. A real timeout still answers
 * 202 `processing` (tests/authorization_held_test.ts).
 */
import assert from "node:assert/strict";
import { listJobs } from "../kv/jobs.ts";
import { getAuthorizationAction } from "../kv/authorizations.ts";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";

const TXNS = "/api/admin/payments/transactions";

async function authorize(w: RetryWorld, amount: number) {
  const { pi } = await authorizeAtStripe(w.stripe, amount, "busy@example.com");
  await w.deliver();
  return { pi, txnId: (await w.t.services.transactions.get(pi.id)).id };
}

async function post(w: RetryWorld, path: string, body: unknown, key?: string) {
  const headers = { ...await w.stepUp(), ...(key ? { "idempotency-key": key } : {}) };
  const res = await w.t.app.request(path, jsonRequest("POST", headers, body));
  return { status: res.status, body: await res.json() as Record<string, unknown>, res };
}

const cases = [
  { kind: "capture", fault: "rate_limit", body: { amount_to_capture: 1500 }, done: "succeeded" },
  {
    kind: "cancel",
    fault: "lock_timeout",
    body: { reason: "abandoned", note: "order dropped" },
    done: "canceled",
  },
] as const;

for (const c of cases) {
  Deno.test(`a ${c.kind} Stripe answers ${c.fault} is 503 with Retry-After, audited as not done, nothing left pending`, async () => {
    await withRetryWorld(async (w) => {
      const a = await authorize(w, 4000);
      const path = new RegExp(`/payment_intents/${a.pi.id}/${c.kind}$`);
      w.emu.faults.inject({ method: "POST", path, kind: c.fault, times: 3 });
      const url = `${TXNS}/${a.txnId}/${c.kind}`;
      const first = await post(w, url, c.body, `${c.kind}-1`);
      assert.equal(first.status, 503, JSON.stringify(first.body));
      assert.equal(first.body.code, "stripe_unavailable");
      assert.ok(Number(first.res.headers.get("retry-after")) >= 1, "Retry-After");
      const action = (await getAuthorizationAction(w.t.kv, String(first.body.action_id))).value;
      assert.equal(action?.status, "failed");
      assert.equal(action?.failure_code, "stripe_unavailable");
      const settles = (await w.t.services.audit.list({
        limit: 20,
        action: `authorization.${c.kind}.settle`,
      })).data;
      assert.deepEqual(settles.map((e) => e.result), ["failed"], "audited as not done");
      const jobs = await listJobs(w.t.kv);
      assert.equal(jobs.filter((j) => j.kind === "authorization.reconcile").length, 0);
      assert.equal((await w.stripe.paymentIntents.retrieve(a.pi.id)).status, "requires_capture");
      assert.equal((await w.t.services.transactions.get(a.txnId)).status, "requires_capture");

      // the same key does it now, once
      const again = await post(w, url, c.body, `${c.kind}-1`);
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.notEqual(again.body.id, first.body.action_id);
      assert.equal(again.body.status, "succeeded");
      const replay = await post(w, url, c.body, `${c.kind}-1`);
      assert.deepEqual(replay.body, again.body);
      w.clock.advance(61_000);
      await w.runAllJobs();
      assert.equal((await w.t.services.retries.reconcile()).authorizations, 0);
      const pi = await w.stripe.paymentIntents.retrieve(a.pi.id);
      assert.equal(pi.status, c.done);
      if (c.kind === "capture") assert.equal(pi.amount_received, 1500);
    });
  });
}

Deno.test("a capture answered 429 without an Idempotency-Key: the payment is free at once for the same request", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorize(w, 2000);
    w.emu.faults.inject({ method: "POST", path: /\/capture$/, kind: "rate_limit", times: 3 });
    const first = await post(w, `${TXNS}/${a.txnId}/capture`, {});
    assert.equal(first.status, 503);
    const again = await post(w, `${TXNS}/${a.txnId}/capture`, {});
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.status, "succeeded");
    assert.equal((await w.stripe.paymentIntents.retrieve(a.pi.id)).amount_received, 2000);
  });
});
