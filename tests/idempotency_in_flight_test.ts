/**
 * The same request sent again under an `Idempotency-Key` while the first is
 * still running (README, "API"): once the first has recorded its refund, that
 * refund as it stands (`Idempotent-Replayed: true`, nothing sent to Stripe);
 * once the first has answered, the same request answers that answer again.
 * (Before the first recorded anything it is `409` with `Retry-After`:
 * tests/idempotency_crashed_test.ts.)
 */
import assert from "node:assert/strict";
import { stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { jsonRequest, stepUpHeaders } from "./helpers/identity.ts";

Deno.test("a request under an Idempotency-Key still running at Stripe answers its refund as it stands, then replayed", async () => {
  await withRefundWorld(async (w) => {
    const { txnId, pi } = await w.pay(5000);
    const headers = { ...await stepUpHeaders(w.t, w.operator), "idempotency-key": "order-1042" };
    const body = {
      transaction_id: txnId,
      amount: 1000,
      reason: "requested_by_customer",
      note: "item returned",
    };
    const send = () =>
      w.t.app.request("/api/admin/payments/refunds", jsonRequest("POST", headers, body));
    let release!: () => void;
    const held = new Promise<void>((r) => release = r);
    let reached!: () => void;
    let isAtStripe = false;
    const atStripe = new Promise<void>((r) => reached = r);
    w.hooks.afterStripeCall = async () => {
      w.hooks.afterStripeCall = undefined;
      isAtStripe = true;
      reached();
      await held;
    };
    const first = Promise.resolve(send());
    // Should the first answer without reaching Stripe, the test fails with its answer (not waits).
    await Promise.race([
      atStripe,
      first.then(async (r: Response) => {
        if (isAtStripe) return;
        throw new Error(`answered ${r.status} before Stripe was called: ${await r.text()}`);
      }),
    ]);
    const again = await send();
    assert.equal(again.status, 202);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    const inFlight = await again.json();
    assert.equal(inFlight.status, "processing");
    release();
    const answered = await first;
    assert.equal(answered.status, 201);
    const refund = await answered.json();
    const replay = await send();
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal((await replay.json()).id, refund.id);
    assert.equal(inFlight.id, refund.id);
    assert.equal((await stripeRefunds(w.stripe, pi)).refunds.length, 1);
  });
});
