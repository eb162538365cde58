/**
 * An `Idempotency-Key` belongs to one request per caller across every keyed route (README "A
 * first session": the same key with another request, on any route taking one, is 422
 * `idempotency_key_reused`, another path named by its method and path): a key first used for a
 * refund moves no money on capture or `POST /retries`, a burst of two routes under one key runs
 * one of them, a request refused before it did anything keeps nothing against the key, and a
 * record kept before the key's marker was (none) still replays on its own route.
 */
import assert from "node:assert/strict";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe, stripeRefunds } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";
import { keys } from "../kv/keys.ts";
import { sha256Hex } from "../core/encoding.ts";

const PAYMENTS = "/api/admin/payments";

async function post(w: RetryWorld, path: string, key: string, body: unknown) {
  const headers = { ...await w.stepUp(), "idempotency-key": key };
  const res = await w.t.app.request(`${PAYMENTS}${path}`, jsonRequest("POST", headers, body));
  return { status: res.status, body: await res.json(), headers: res.headers };
}

function refundBody(txnId: string) {
  return { transaction_id: txnId, amount: 1000, reason: "duplicate", note: "charged twice" };
}

async function authorized(w: RetryWorld) {
  const { pi } = await authorizeAtStripe(w.stripe, 4500, "held@example.com");
  await w.deliver();
  return { pi, txnId: (await w.t.services.transactions.get(pi.id)).id };
}

function assertReused(res: { status: number; body: Record<string, unknown> }, first: string) {
  assert.equal(res.status, 422, JSON.stringify(res.body));
  assert.equal(res.body.code, "idempotency_key_reused");
  const [field] = res.body.errors as { path: string; message: string }[];
  assert.equal(field.path, "header.idempotency-key");
  assert.ok(field.message.includes(`first used for ${first}`), field.message);
  assert.match(field.message, /a new Idempotency-Key for a new request/);
}

Deno.test("a key first used for a refund captures nothing: 422 naming the refund's request", async () => {
  await withRetryWorld(async (w) => {
    const paid = await w.pay(5000);
    const auth = await authorized(w);
    const refund = await post(w, "/refunds", "order-77", refundBody(paid.txnId));
    assert.equal(refund.status, 201, JSON.stringify(refund.body));
    const capture = await post(w, `/transactions/${auth.txnId}/capture`, "order-77", {});
    assertReused(capture, `POST ${PAYMENTS}/refunds`);
    assert.equal((await w.stripe.paymentIntents.retrieve(auth.pi.id)).status, "requires_capture");
    // the refund's own replay still answers it
    const again = await post(w, "/refunds", "order-77", refundBody(paid.txnId));
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal((await stripeRefunds(w.stripe, paid.pi)).refunds.length, 1);
  });
});

Deno.test("a key first used for a refund charges no card on POST /retries", async () => {
  await withRetryWorld(async (w) => {
    const paid = await w.pay(5000);
    const failed = await w.failedPayment(3000, "pm_card_chargeDeclinedInsufficientFunds");
    const charged = (await w.charges(failed.pi.id)).length;
    const refund = await post(w, "/refunds", "order-78", refundBody(paid.txnId));
    assert.equal(refund.status, 201, JSON.stringify(refund.body));
    const retry = await w.retry(
      { transaction_id: failed.txnId, payment_method: "pm_card_visa" },
      { idempotencyKey: "order-78" },
    );
    assertReused(retry, `POST ${PAYMENTS}/refunds`);
    assert.equal((await w.charges(failed.pi.id)).length, charged, "no card charged");
    // and the other way round: a key first used for a retry refunds nothing
    const first = await w.retry(
      { transaction_id: failed.txnId, payment_method: "pm_card_visa" },
      { idempotencyKey: "order-79" },
    );
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const other = await post(w, "/refunds", "order-79", refundBody(paid.txnId));
    assertReused(other, `POST ${PAYMENTS}/retries`);
    assert.equal((await stripeRefunds(w.stripe, paid.pi)).refunds.length, 1);
  });
});

Deno.test("a burst of a refund and a capture under one key runs exactly one of them", async () => {
  await withRetryWorld(async (w) => {
    for (let i = 0; i < 3; i++) {
      const paid = await w.pay(5000);
      const auth = await authorized(w);
      await w.stepUp();
      const key = `burst-${i}`;
      const [refund, capture] = await Promise.all([
        post(w, "/refunds", key, refundBody(paid.txnId)),
        post(w, `/transactions/${auth.txnId}/capture`, key, {}),
      ]);
      const ran = [refund, capture].filter((r) => r.status < 300);
      assert.equal(ran.length, 1, JSON.stringify([refund.body, capture.body]));
      const lost = refund.status < 300 ? capture : refund;
      assert.equal(lost.status, 422, JSON.stringify(lost.body));
      assert.equal(lost.body.code, "idempotency_key_reused");
      const refunded = (await stripeRefunds(w.stripe, paid.pi)).refunds.length;
      const captured = (await w.stripe.paymentIntents.retrieve(auth.pi.id)).status === "succeeded";
      assert.equal(refunded + (captured ? 1 : 0), 1, "money moved once");
    }
  });
});

Deno.test("a request refused before it did anything keeps nothing: the key then serves another route", async () => {
  await withRetryWorld(async (w) => {
    const paid = await w.pay(5000);
    const auth = await authorized(w);
    // more than the payment: refused before anything is sent, nothing kept against the key
    const refused = await post(w, "/refunds", "k-free", {
      ...refundBody(paid.txnId),
      amount: 9999,
    });
    assert.equal(refused.status >= 400 && refused.status < 500, true, JSON.stringify(refused));
    assert.notEqual(refused.body.code, "idempotency_key_reused");
    const capture = await post(w, `/transactions/${auth.txnId}/capture`, "k-free", {});
    assert.equal(capture.status, 201, JSON.stringify(capture.body));
  });
});

Deno.test("a record kept before the key's marker (none) still replays on its route, never runs again", async () => {
  await withRetryWorld(async (w) => {
    const paid = await w.pay(5000);
    const first = await post(w, "/refunds", "legacy-1", refundBody(paid.txnId));
    assert.equal(first.status, 201);
    // as kept before this version: the per-route record alone
    const marker = keys.idempotencyOwnerKey(w.operator.id, sha256Hex("legacy-1"));
    assert.ok((await w.t.kv.get(marker)).value, "the claim wrote the key's marker");
    await w.t.kv.delete(marker);
    const again = await post(w, "/refunds", "legacy-1", refundBody(paid.txnId));
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assert.equal((await stripeRefunds(w.stripe, paid.pi)).refunds.length, 1);
  });
});
