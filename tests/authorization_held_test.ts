/**
 * A capture or cancel whose Stripe call is held past the reconcile point stays
 * `processing` (README "Retrying failed payments", Exactly once; Authorizations
 * "the same way"): reconciliation asks Stripe with the same idempotency key and
 * settles from its answer, never from the time alone.
 */
import assert from "node:assert/strict";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";
import { getAuthorizationAction } from "../kv/authorizations.ts";
import type { FaultHandle } from "../emulator/faults.ts";

const TXNS = "/api/admin/payments/transactions";
const TIMEOUT_MS = 400;

async function authorize(w: RetryWorld, amount: number) {
  const { pi } = await authorizeAtStripe(w.stripe, amount, "held@example.com");
  await w.deliver();
  return { pi, txnId: (await w.t.services.transactions.get(pi.id)).id };
}

async function post(w: RetryWorld, path: string, body: unknown) {
  const res = await w.t.app.request(path, jsonRequest("POST", await w.stepUp(), body));
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

async function settles(w: RetryWorld, kind: string, txnId: string) {
  const all =
    (await w.t.services.audit.list({ limit: 100, action: `authorization.${kind}.settle` }))
      .data;
  return all.filter((e) => e.target?.id === txnId);
}

async function actionOf(w: RetryWorld, id: unknown) {
  const a = (await getAuthorizationAction(w.t.kv, String(id))).value;
  assert.ok(a);
  return a;
}

/** Stripe acts on the held call now (never on a timer, which a busy machine outruns). */
async function land(w: RetryWorld, held: FaultHandle) {
  await held.release();
  await w.dropHeld(); // its webhooks never arrive: reconciliation alone settles it
}

for (const kind of ["capture", "cancel"] as const) {
  Deno.test(`a ${kind} held at Stripe past the reconcile point stays processing, then settles as done`, async () => {
    await withRetryWorld(async (w) => {
      const a = await authorize(w, 45000);
      const hold = w.emu.faults.inject({
        method: "POST",
        path: new RegExp(`/payment_intents/${a.pi.id}/${kind}$`),
        kind: "latency",
        ms: Infinity, // until released: Stripe still holds it at the reconcile point
      });
      const body = kind === "capture"
        ? { amount_to_capture: 1000 }
        : { reason: "abandoned", note: "order dropped" };
      const res = await post(w, `${TXNS}/${a.txnId}/${kind}`, body);
      assert.equal(res.status, 202);
      assert.equal(res.body.status, "processing");

      w.clock.advance(61_000);
      await w.runAllJobs();
      await w.t.services.retries.reconcile();
      const held = await actionOf(w, res.body.id);
      assert.equal(held.status, "processing", "never judged by time while Stripe may act");
      assert.equal((await settles(w, kind, a.txnId)).length, 0);
      const other = await post(w, `${TXNS}/${a.txnId}/cancel`, { reason: "abandoned", note: "2" });
      assert.equal(other.status, 409, "the payment stays locked while the action is unknown");

      await land(w, hold);
      w.clock.advance(120_000);
      await w.runAllJobs();
      await w.t.services.retries.reconcile();
      const done = await actionOf(w, res.body.id);
      assert.equal(done.status, "succeeded");
      const audit = await settles(w, kind, a.txnId);
      assert.equal(audit.length, 1, "settled once, never as failed first");
      assert.equal(audit[0].result, "ok");
      const pi = await w.stripe.paymentIntents.retrieve(a.pi.id);
      assert.equal(pi.status, kind === "capture" ? "succeeded" : "canceled");
      if (kind === "capture") assert.equal(pi.amount_received, 1000);
      const txn = await w.t.services.transactions.get(a.txnId);
      assert.equal(txn.status, pi.status);
    }, { timeoutMs: TIMEOUT_MS });
  });
}

Deno.test("a capture Stripe never received is sent again with its key and done once", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorize(w, 5000);
    // 5xx on every attempt the gateway makes: Stripe never ran it, the answer is unknown here
    const fault = w.emu.faults.inject({
      method: "POST",
      path: /\/capture$/,
      kind: "server_error",
      times: 20,
    });
    const res = await post(w, `${TXNS}/${a.txnId}/capture`, {});
    assert.equal(res.status, 202);
    fault.remove();
    assert.equal((await w.stripe.paymentIntents.retrieve(a.pi.id)).status, "requires_capture");
    w.clock.advance(61_000);
    await w.runAllJobs();
    const done = await actionOf(w, res.body.id);
    assert.equal(done.status, "succeeded");
    const pi = await w.stripe.paymentIntents.retrieve(a.pi.id);
    assert.equal(pi.amount_received, 5000);
  });
});
