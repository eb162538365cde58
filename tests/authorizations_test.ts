/** POST /transactions/{id}/capture and /cancel through the emulator: once each, and expiry alerts. */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { allLedgerEntries } from "../kv/customers.ts";
import { runPeriodicTask } from "../services/background.ts";
import { authHeaders, jsonRequest } from "./helpers/identity.ts";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";

const TXNS = "/api/admin/payments/transactions";

async function authorize(w: RetryWorld, amount: number) {
  const { pi, customer } = await authorizeAtStripe(w.stripe, amount, "hold@example.com");
  assert.equal(pi.status, "requires_capture");
  await w.deliver();
  const txn = await w.t.services.transactions.get(pi.id);
  assert.equal(txn.status, "requires_capture");
  assert.equal(txn.amount_capturable, amount);
  return { pi, txnId: txn.id, customer };
}

async function post(w: RetryWorld, path: string, body: unknown, key?: string) {
  const headers = await w.stepUp();
  const h = key ? { ...headers, "idempotency-key": key } : headers;
  const res = await w.t.app.request(path, jsonRequest("POST", h, body));
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

async function paymentOf(w: RetryWorld, customer: string) {
  return (await allLedgerEntries(w.t.kv, customer)).filter((e) => e.type === "payment")
    .reduce((n, e) => n + e.amount, 0);
}

Deno.test("a manual-capture payment is captured in part, once", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorize(w, 5000);
    const tooMuch = await post(w, `${TXNS}/${a.txnId}/capture`, { amount_to_capture: 5001 });
    assert.equal(tooMuch.status, 422);
    assert.equal((tooMuch.body.errors as { path: string }[])[0].path, "body.amount_to_capture");

    const res = await post(w, `${TXNS}/${a.txnId}/capture`, { amount_to_capture: 3000 }, "cap-1");
    assert.equal(res.status, 201);
    assert.equal(res.body.kind, "capture");
    assert.equal(res.body.status, "succeeded");
    assert.equal(res.body.amount_to_capture, 3000);
    assert.match(String(res.body.stripe_request_id), /^req_/);
    const replay = await post(
      w,
      `${TXNS}/${a.txnId}/capture`,
      { amount_to_capture: 3000 },
      "cap-1",
    );
    assert.deepEqual(replay.body, res.body);

    // the same capture again (a second click) is the capture; another amount is 409
    const again = await post(w, `${TXNS}/${a.txnId}/capture`, { amount_to_capture: 3000 });
    assert.equal(again.status, 201);
    assert.equal(again.body.id, res.body.id);
    const other = await post(w, `${TXNS}/${a.txnId}/capture`, { amount_to_capture: 2000 });
    assert.equal(other.status, 409);
    assert.match(String(other.body.detail), /already sent a capture/);
    assert.equal(other.body.status, 409, "was the action's status, a string");
    assert.equal(other.body.action_status, "succeeded");

    const pi = await w.stripe.paymentIntents.retrieve(a.pi.id);
    assert.equal(pi.status, "succeeded");
    assert.equal(pi.amount_received, 3000);
    const txn = await w.t.services.transactions.get(a.txnId);
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.amount_captured, 3000);
    assert.equal(txn.amount_capturable, 0);
    await w.deliver();
    assert.equal(await paymentOf(w, a.customer), 3000);
  });
});

Deno.test("an authorization is released once with Stripe's cancellation reason; capture and cancel racing: one wins", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorize(w, 4000);
    const bad = await post(w, `${TXNS}/${a.txnId}/cancel`, { reason: "changed_mind", note: "x" });
    assert.equal(bad.status, 422);
    const res = await post(w, `${TXNS}/${a.txnId}/cancel`, {
      reason: "requested_by_customer",
      note: "customer called to cancel the order",
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.status, "succeeded");
    const pi: Stripe.PaymentIntent = await w.stripe.paymentIntents.retrieve(a.pi.id);
    assert.equal(pi.status, "canceled");
    assert.equal(pi.cancellation_reason, "requested_by_customer");
    assert.equal((await w.t.services.transactions.get(a.txnId)).status, "canceled");
    const again = await post(w, `${TXNS}/${a.txnId}/cancel`, {
      reason: "requested_by_customer",
      note: "second click",
    });
    assert.equal(again.status, 409);
    await w.deliver();
    assert.equal(await paymentOf(w, a.customer), 0);

    const b = await authorize(w, 2000);
    await w.stepUp();
    const [cap, can] = await Promise.all([
      post(w, `${TXNS}/${b.txnId}/capture`, {}),
      post(w, `${TXNS}/${b.txnId}/cancel`, { reason: "abandoned", note: "racing" }),
    ]);
    assert.deepEqual([cap.status, can.status].sort(), [201, 409]);
    const final = await w.stripe.paymentIntents.retrieve(b.pi.id);
    assert.equal(final.status, cap.status === 201 ? "succeeded" : "canceled");
  });
});

Deno.test("a capture whose answer is lost is settled by reconciliation, not captured twice", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorize(w, 5000);
    w.emu.faults.inject({ method: "POST", path: /\/capture$/, kind: "act_then_drop" });
    const res = await post(w, `${TXNS}/${a.txnId}/capture`, { amount_to_capture: 1000 });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, "processing");
    await w.dropHeld();
    w.clock.advance(61_000);
    await w.runAllJobs();
    const list = await w.t.services.retries.reconcile();
    assert.equal(list.authorizations, 0, "the job settled it already");
    const pi = await w.stripe.paymentIntents.retrieve(a.pi.id);
    assert.equal(pi.amount_received, 1000);
    assert.equal((await w.t.services.transactions.get(a.txnId)).status, "succeeded");
    assert.equal(await paymentOf(w, a.customer), 1000);
  });
});

Deno.test("capture and cancel need operator+ and 2FA; a payment not authorized is 409", async () => {
  await withRetryWorld(async (w) => {
    const paid = await w.pay(1000);
    const res = await post(w, `${TXNS}/${paid.txnId}/capture`, {});
    assert.equal(res.status, 409);
    assert.match(String(res.body.detail), /succeeded/);
    const noOtp = await w.t.app.request(
      `${TXNS}/${paid.txnId}/capture`,
      jsonRequest("POST", authHeaders(w.operator), {}),
    );
    assert.equal(noOtp.status, 401);
  });
});

Deno.test("an authorization within 24 h of lapsing raises one ops alert", async () => {
  await withRetryWorld(async (w) => {
    const a = await authorize(w, 7000);
    assert.equal(await w.t.services.retries.sweepExpiringAuthorizations(), 0);
    w.clock.advance(6 * 24 * 3600_000 - 60_000);
    assert.equal(await w.t.services.retries.sweepExpiringAuthorizations(), 0, "not yet");
    w.clock.advance(120_000);
    await runPeriodicTask(w.t.services, "authorization-expiry"); // as the cron does
    assert.equal(await w.t.services.retries.sweepExpiringAuthorizations(), 0, "raised once");
    const alerts = await w.t.services.opsAlerts.list({ limit: 10 });
    const mine = alerts.data.filter((x) => x.kind === "authorization_expiring");
    assert.equal(mine.length, 1);
    assert.equal(mine[0].transaction_id, a.txnId);
    assert.equal(mine[0].amount, 7000);
    assert.match(mine[0].detail, /^the authorization of 70\.00 USD on /);
  });
});
