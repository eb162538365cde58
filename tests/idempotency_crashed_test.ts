/**
 * The same request under an `Idempotency-Key` after the process that took the key died
 * mid-request (README "API"): while the dead claim's lease runs, the action it recorded is
 * answered as it stands (`Idempotent-Replayed: true`), and once settled that answer is the
 * key's; only when it recorded nothing is the answer `409`, with `Retry-After` the time left
 * on the lease. The crash is deterministic: a hook or a gateway that "dies" right after
 * Stripe's call, leaving the claim as a dead process leaves it; the restart is another
 * instance over the same KV.
 */
import assert from "node:assert/strict";
import { keys } from "../kv/keys.ts";
import { sha256Hex } from "../core/encoding.ts";
import { AppError } from "../core/errors.ts";
import { IDEMPOTENCY_LEASE_MS, requestFingerprint } from "../kv/idempotency.ts";
import { jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { deathGateway, ProcessDeath } from "./helpers/faults.ts";

const REFUNDS = "/api/admin/payments/refunds";
const TXNS = "/api/admin/payments/transactions";

async function keyRecord(kv: Deno.Kv, owner: string, route: string, key: string) {
  const k = keys.idempotencyKey(owner, route, sha256Hex(key));
  return (await kv.get<{ state: string; response: { body: unknown } | null }>(k)).value;
}

Deno.test("a refund whose process died mid-request: the same key answers the refund as it stands at once, then settled", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const headers = {
      ...await stepUpHeaders(w.t, w.operator),
      "idempotency-key": "crash-refund-1",
    };
    const body = { transaction_id: pay.txnId, amount: 1500, reason: "duplicate", note: "n" };
    w.hooks.afterStripeCall = () => {
      w.hooks.afterStripeCall = undefined;
      throw new ProcessDeath();
    };
    const died = await w.t.app.request(REFUNDS, jsonRequest("POST", headers, body));
    assert.equal(died.status, 500, "the first request died after Stripe's call");
    await died.body?.cancel();
    const restarted = await w.isolate();
    const send = () => restarted.t.app.request(REFUNDS, jsonRequest("POST", headers, body));

    const early = await send();
    assert.equal(early.status, 202, "the refund as it stands, not 409");
    assert.equal(early.headers.get("idempotent-replayed"), "true");
    const pending = await early.json();
    assert.equal(pending.status, "processing");

    w.clock.advance(61_000); // the reconcile job is due; the dead claim's lease is not over
    await restarted.runJobs();
    assert.equal((await restarted.t.services.refunds.get(pending.id)).status, "succeeded");
    const settled = await send();
    assert.equal(settled.status, 201);
    assert.equal(settled.headers.get("idempotent-replayed"), "true");
    const answer = await settled.json();
    assert.equal(answer.id, pending.id);
    assert.equal(answer.status, "succeeded");
    const kept = await keyRecord(w.t.kv, w.operator.id, "POST /refunds", "crash-refund-1");
    assert.equal(kept?.state, "done", "the settled answer is the key's");
    assert.deepEqual(kept?.response?.body, answer);

    const again = await send();
    assert.deepEqual(await again.json(), answer, "later replays are the kept answer");
    const otherBody = { ...body, amount: 999 };
    const other = await restarted.t.app.request(REFUNDS, jsonRequest("POST", headers, otherBody));
    assert.equal(other.status, 422, "another body under the key is still refused");
    await other.body?.cancel();
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1, "one Stripe refund");
  }, { file: true });
});

Deno.test("a key whose dead request recorded nothing is 409 with Retry-After the lease left, then runs", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const input = {
      transaction_id: pay.txnId,
      amount: 1000,
      reason: "requested_by_customer" as const,
      note: "n",
    };
    // the claim as a process that died 30 s ago, before its first commit, left it
    const now = w.clock.now();
    const taken = now - 30_000;
    await w.t.kv.set(
      keys.idempotencyKey(w.operator.id, "POST /refunds", sha256Hex("crash-early")),
      {
        claim_id: crypto.randomUUID(),
        fingerprint: await requestFingerprint({ route: "create", ...input }),
        state: "in_flight",
        response: null,
        error: null,
        resource_id: null,
        created_at: taken,
        lease_until: taken + IDEMPOTENCY_LEASE_MS,
        expires_at: taken + 48 * 3600_000,
      },
    );
    const headers = { ...await stepUpHeaders(w.t, w.operator), "idempotency-key": "crash-early" };
    const answered = await w.t.app.request(REFUNDS, jsonRequest("POST", headers, input));
    assert.equal(answered.status, 409);
    assert.equal(answered.headers.get("retry-after"), "90");
    assert.match(
      (await answered.json()).detail,
      /stopped mid-call .*; the key frees at .* \(in 90 s\)/,
    );
    const held = await w.t.services.refunds.create(w.ctx(w.operator, "crash-early"), input)
      .catch((e) => e);
    assert.ok(held instanceof AppError);
    assert.equal(held.code, "conflict");
    assert.equal(held.retryAfter, 90, "the seconds left on the lease, not 1");
    assert.match(held.message, /stopped mid-call/);
    assert.ok(held.message.includes(new Date(taken + IDEMPOTENCY_LEASE_MS).toISOString()));
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);

    w.clock.advance(90_001);
    const ran = await w.t.services.refunds.create(w.ctx(w.operator, "crash-early"), input);
    assert.equal(ran.replayed, false, "nothing was done before: it runs now");
    assert.equal(ran.refund.status, "succeeded");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  });
});

Deno.test("a capture whose process died mid-request, its Stripe answer lost: the same key answers the capture as it stands at once, then settled", async () => {
  const death = deathGateway(/^payment_intents\.capture$/);
  await withRetryWorld(async (w) => {
    const { pi } = await authorizeAtStripe(w.stripe, 5000, "hold@example.com");
    await w.deliver();
    const txnId = (await w.t.services.transactions.get(pi.id)).id;
    const headers = { ...await w.stepUp(), "idempotency-key": "crash-capture-1" };
    const path = `${TXNS}/${txnId}/capture`;
    const body = { amount_to_capture: 3000 };
    death.state.armed = true;
    // Stripe captured; its answer was lost (202 processing), and then the process died
    // before keeping that answer: the key's claim as the dead process left it
    const lost = await w.t.app.request(path, jsonRequest("POST", headers, body));
    assert.equal(lost.status, 202);
    await lost.body?.cancel();
    const route = "POST /transactions/{id}/capture";
    const k = keys.idempotencyKey(w.operator.id, route, sha256Hex("crash-capture-1"));
    const claim = (await w.t.kv.get<Record<string, unknown>>(k)).value!;
    assert.ok(claim.resource_id, "bound in the recording commit");
    await w.t.kv.set(k, { ...claim, state: "in_flight", response: null });
    const restarted = await w.isolate();
    const send = () => restarted.t.app.request(path, jsonRequest("POST", headers, body));

    const early = await send();
    assert.equal(early.status, 202, "the capture as it stands, not 409");
    assert.equal(early.headers.get("idempotent-replayed"), "true");
    const pending = await early.json();
    assert.equal(pending.status, "processing");

    w.clock.advance(61_000);
    await w.runAllJobs();
    const settled = await send();
    assert.equal(settled.status, 201);
    assert.equal(settled.headers.get("idempotent-replayed"), "true");
    const answer = await settled.json();
    assert.equal(answer.id, pending.id);
    assert.equal(answer.status, "succeeded");
    const kept = await keyRecord(w.t.kv, w.operator.id, route, "crash-capture-1");
    assert.equal(kept?.state, "done");
    assert.deepEqual(kept?.response?.body, answer);
    const charge = (await w.charges(pi.id))[0];
    assert.equal(charge.amount_captured, 3000, "captured once");
  }, { file: true, intercept: death.intercept });
});
