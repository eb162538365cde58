/** Client Idempotency-Keys on the refund POSTs (kv/idempotency.ts). */
import assert from "node:assert/strict";
import { isUndecided } from "../domain/refund.ts";
import { AppError } from "../core/errors.ts";
import { IDEMPOTENCY_LEASE_MS } from "../kv/idempotency.ts";
import { jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { approvalOf, askRefund, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";

const BASE = "/api/admin/payments/refunds";
const HOUR = 3600_000;

Deno.test("POST /refunds with the same Idempotency-Key and body replays the first answer; another body is refused", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const headers = {
      ...await stepUpHeaders(w.t, w.operator),
      "idempotency-key": "order-42-refund",
    };
    const body = { transaction_id: pay.txnId, amount: 1000, reason: "duplicate", note: "twice" };
    const first = await w.t.app.request(BASE, jsonRequest("POST", headers, body));
    assert.equal(first.status, 201);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const firstBody = await first.json();
    const again = await w.t.app.request(BASE, jsonRequest("POST", headers, body));
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), firstBody);

    const other = await w.t.app.request(
      BASE,
      jsonRequest("POST", headers, { ...body, amount: 999 }),
    );
    assert.equal(other.status, 422);
    const problem = await other.json();
    assert.equal(problem.code, "idempotency_key_reused");
    assert.equal(problem.errors[0].path, "header.idempotency-key");
    const stripe = await stripeRefunds(w.stripe, pay.pi);
    assert.equal(stripe.refunds.length, 1);
    const audit = await w.t.services.audit.list({ limit: 20, action: "refund.create" });
    const made = audit.data.filter((e) => e.result === "ok");
    assert.equal(made.length, 1);
    assert.equal(made[0].idempotency_key, "order-42-refund");
    // the reused key is a denied attempt (README, "Refund approval policy")
    const denied = audit.data.filter((e) => e.result === "denied");
    assert.equal(denied.length, 1);
    assert.match(denied[0].reason ?? "", /^idempotency_key_reused: /);
  });
});

Deno.test("Idempotency-Keys are scoped per admin and kept at least 24 h", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(9000);
    const input = {
      transaction_id: pay.txnId,
      amount: 1000,
      reason: "requested_by_customer" as const,
      note: "n",
    };
    const mine = await w.t.services.refunds.create(w.ctx(w.operator, "k1"), input);
    const theirs = await w.t.services.refunds.create(w.ctx(w.operator2, "k1"), input);
    assert.notEqual(mine.refund.id, theirs.refund.id);
    await w.dropHeld();
    w.clock.advance(25 * HOUR);
    const replay = await w.t.services.refunds.create(w.ctx(w.operator, "k1"), input);
    assert.equal(replay.replayed, true);
    assert.equal(replay.refund.id, mine.refund.id);
    w.clock.advance(24 * HOUR);
    const fresh = await w.t.services.refunds.create(w.ctx(w.operator, "k1"), input);
    assert.equal(fresh.replayed, false);
    assert.notEqual(fresh.refund.id, mine.refund.id);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 3);
  });
});

Deno.test("two concurrent requests with one Idempotency-Key make one refund", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const input = {
      transaction_id: pay.txnId,
      amount: 700,
      reason: "duplicate" as const,
      note: "n",
    };
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => w.t.services.refunds.create(w.ctx(w.operator, "dbl"), input)),
    );
    const ids = new Set<string>();
    for (const r of results) {
      if (r.status === "fulfilled") ids.add(r.value.refund.id);
      else assert.equal((r.reason as AppError).code, "conflict");
    }
    assert.equal(ids.size, 1);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  });
});

Deno.test("a retry with the key after the process died mid-request answers with the refund already made", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const input = {
      transaction_id: pay.txnId,
      amount: 1500,
      reason: "duplicate" as const,
      note: "n",
    };
    w.hooks.afterStripeCall = () => {
      throw new Error("simulated crash");
    };
    await assert.rejects(w.t.services.refunds.create(w.ctx(w.operator, "crash-1"), input));
    w.hooks.afterStripeCall = undefined;
    // its claim is leased until it runs out; meanwhile the refund it made answers, as it stands
    const early = await w.t.services.refunds.create(w.ctx(w.operator, "crash-1"), input);
    assert.equal(early.replayed, true);
    assert.equal(early.refund.status, "processing");
    w.clock.advance(IDEMPOTENCY_LEASE_MS + 1);
    const resumed = await w.t.services.refunds.create(w.ctx(w.operator, "crash-1"), input);
    assert.equal(resumed.replayed, true);
    assert.equal(isUndecided(resumed.refund.status), true);
    assert.equal(resumed.refund.status, "processing");
    assert.equal(resumed.refund.id, early.refund.id);
    await w.runJobs();
    assert.equal((await w.t.services.refunds.get(resumed.refund.id)).status, "succeeded");
    const again = await w.t.services.refunds.create(w.ctx(w.operator, "crash-1"), input);
    assert.equal(again.refund.id, resumed.refund.id);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  });
});

Deno.test("POST /refunds resumed after a crash answers the refund the first request made as a replay: nothing is sent now", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const headers = { ...await stepUpHeaders(w.t, w.operator), "idempotency-key": "crash-2" };
    const body = {
      transaction_id: pay.txnId,
      amount: 1500,
      reason: "duplicate" as const,
      note: "n",
    };
    w.hooks.afterStripeCall = () => {
      throw new Error("simulated crash");
    };
    await assert.rejects(w.t.services.refunds.create(w.ctx(w.operator, "crash-2"), body));
    w.hooks.afterStripeCall = undefined;
    w.clock.advance(IDEMPOTENCY_LEASE_MS + 1);
    const resumed = await w.t.app.request(BASE, jsonRequest("POST", headers, body));
    assert.equal(resumed.status, 202);
    // unlike a retry resumed after a lost attach answer, resuming a refund sends nothing:
    // the answer is the earlier request's refund, read back
    assert.equal(resumed.headers.get("idempotent-replayed"), "true");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  });
});

Deno.test("an answer refused before anything was recorded is not kept for the key; a Stripe refusal is", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(2000);
    const ctx = () => w.ctx(w.operator, "fix-and-retry");
    const tooMuch = await w.t.services.refunds.create(ctx(), {
      transaction_id: pay.txnId,
      amount: 2500,
      reason: "duplicate",
      note: "n",
    }).catch((e) => e);
    assert.equal((tooMuch as AppError).code, "amount_exceeds_refundable");
    const fixed = await w.t.services.refunds.create(ctx(), {
      transaction_id: pay.txnId,
      amount: 2000,
      reason: "duplicate",
      note: "n",
    });
    assert.equal(isUndecided(fixed.refund.status), false);

    const other = await w.pay(1000);
    await w.stripe.refunds.create({ payment_intent: other.pi.id }); // Stripe will refuse ours
    const input = {
      transaction_id: other.txnId,
      amount: 500,
      reason: "duplicate" as const,
      note: "n",
    };
    const refused = await w.t.services.refunds.create(w.ctx(w.operator, "refused"), input)
      .catch((e) => e);
    // Stripe said the charge is refunded already: 409 charge_not_refundable
    assert.equal((refused as AppError).code, "charge_not_refundable");
    const before = w.emu.requests.total();
    const replay = await w.t.services.refunds.create(w.ctx(w.operator, "refused"), input)
      .catch((e) => e);
    assert.equal((replay as AppError).code, "charge_not_refundable");
    assert.equal((replay as AppError).extra?.refund_id, (refused as AppError).extra?.refund_id);
    assert.equal(w.emu.requests.total(), before, "the replay did not call Stripe");
  });
});

Deno.test("POST /refunds/{id}/approve with an Idempotency-Key approves and sends once", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(9000);
    const asked = await askRefund(w, pay.txnId, 6000, "n");
    assert.equal(isUndecided(asked.refund.status), true);
    const read = await approvalOf(w.t, asked.refund.id);
    const first = await w.t.services.refunds.approve(
      w.ctx(w.admin, "approve-1"),
      asked.refund.id,
      read,
    );
    const again = await w.t.services.refunds.approve(
      w.ctx(w.admin, "approve-1"),
      asked.refund.id,
      read,
    );
    assert.equal(isUndecided(first.refund.status), false);
    assert.equal(again.replayed, true);
    assert.deepEqual(again.refund, first.refund);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "5000" } });
});
