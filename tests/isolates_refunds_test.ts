/**
 * Two isolates of one deployment (Deno Deploy runs several, sharing one KV):
 * each its own KV handle, services, caches, queues and Stripe gateway, the same
 * emulator. Whatever one keeps in memory, the invariants must hold across both
 * (README, "Refunds" and "API": exactly one refund at Stripe per request, one
 * answer per Idempotency-Key).
 */
import assert from "node:assert/strict";
import { AppError } from "../core/errors.ts";
import {
  askRefund,
  type RefundWorld,
  statusOf,
  stripeRefunds,
  withRefundWorld,
} from "./helpers/refunds.ts";
import { jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { allLedgerEntries } from "../kv/customers.ts";
import { systemContext } from "../domain/actor.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };

async function assertAuditValid(w: RefundWorld) {
  const result = await w.t.services.audit.verify();
  assert.equal(result.ok, true, JSON.stringify(result));
}

Deno.test("isolates: the same refund approved on both at once goes to Stripe once", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const pay = await w.pay(8000);
    const asked = await askRefund(w, pay.txnId, 6000, "large goodwill refund");
    assert.equal(asked.refund.status, "awaiting_approval");
    const approve = (refunds: typeof other.t.services.refunds, by = w.operator2) =>
      refunds.approve(w.ctx(by), asked.refund.id, {
        note: "checked the order",
        approval_hash: asked.refund.approval.hash!,
      });
    const results = await Promise.allSettled([
      approve(w.t.services.refunds),
      approve(other.t.services.refunds),
      approve(w.t.services.refunds, w.admin),
      approve(other.t.services.refunds, w.admin),
    ]);
    const done = results.filter((r) => r.status === "fulfilled");
    assert.ok(done.length >= 1, JSON.stringify(results));
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof AppError, String(r.reason));
    }
    await w.deliver();
    const stripe = await stripeRefunds(w.stripe, pay.pi);
    assert.deepEqual(stripe.refunds.map((r) => r.amount), [6000]);
    const txn = await other.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_refunded, 6000);
    assert.equal(txn.amount_reserved, 0);
    await assertAuditValid(w);
  }, { env: ENV, file: true });
});

Deno.test("isolates: the same Idempotency-Key sent to both at once makes one refund", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const pay = await w.pay(5000);
    const headers = { ...await stepUpHeaders(w.t, w.operator), "idempotency-key": "order-7" };
    const body = {
      transaction_id: pay.txnId,
      amount: 1000,
      reason: "requested_by_customer",
      note: "item returned",
    };
    const send = (app: typeof w.t.app) =>
      app.request("/api/admin/payments/refunds", jsonRequest("POST", headers, body));
    const answers = await Promise.all([send(w.t.app), send(other.t.app), send(other.t.app)]);
    const statuses = answers.map((r) => r.status);
    const ids = new Set<string>();
    for (const r of answers) {
      const json = await r.json();
      if (r.status === 201) ids.add(json.id);
      // a key held by a request that recorded its refund answers that refund as it stands
      else if (r.status === 202) {
        assert.equal(json.status, "processing");
        ids.add(json.id);
      } else assert.equal(r.status, 409, JSON.stringify(json));
    }
    assert.ok(statuses.includes(201), String(statuses));
    assert.equal(ids.size, 1, "every 201 and 202 names the same refund");
    const after = await Promise.all([send(w.t.app), send(other.t.app)]);
    for (const r of after) {
      assert.equal(r.status, 201);
      assert.equal((await r.json()).id, [...ids][0]);
    }
    await w.deliver();
    assert.deepEqual((await stripeRefunds(w.stripe, pay.pi)).refunds.map((r) => r.amount), [1000]);
    await assertAuditValid(w);
  }, { file: true });
});

Deno.test("isolates: the same webhook delivered to both at once is applied once", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const customer = await w.stripe.customers.create({ email: "b@example.com" });
    const pi = await w.stripe.paymentIntents.create({
      amount: 4200,
      currency: "usd",
      customer: customer.id,
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const held = await w.held();
    await w.dropHeld();
    // every event to both isolates at once; then half of them again in opposite orders
    const post = (t: typeof w.t, h: (typeof held)[number]) =>
      t.app.request("/api/webhooks/stripe", {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": h.signature },
        body: h.body,
      });
    const answers = await Promise.all([
      ...held.map((h) => post(w.t, h)),
      ...[...held].reverse().map((h) => post(other.t, h)),
    ]);
    for (const r of answers) assert.equal(r.status, 200, await r.text());
    await other.t.services.webhooks.drain();
    await w.t.services.webhooks.drain();
    const txn = await other.t.services.transactions.get(pi.id);
    assert.equal(txn.amount, 4200);
    assert.equal(txn.status, "succeeded");
    const cust = await w.t.services.customers.get(customer.id, { limit: 50 });
    assert.equal(
      JSON.stringify(cust),
      JSON.stringify(await other.t.services.customers.get(customer.id, { limit: 50 })),
    );
    await assertAuditValid(w);
  }, { file: true });
});

Deno.test("isolates: a key still running on one isolate answers its refund as it stands on the other, then replayed there", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const pay = await w.pay(5000);
    const headers = { ...await stepUpHeaders(w.t, w.operator), "idempotency-key": "order-9" };
    const body = {
      transaction_id: pay.txnId,
      amount: 1000,
      reason: "requested_by_customer",
      note: "item returned",
    };
    const send = (app: typeof w.t.app) =>
      app.request("/api/admin/payments/refunds", jsonRequest("POST", headers, body));
    let release!: () => void;
    const held = new Promise<void>((r) => release = r);
    let reached!: () => void;
    const atStripe = new Promise<void>((r) => reached = r);
    w.hooks.afterStripeCall = async () => {
      w.hooks.afterStripeCall = undefined;
      reached();
      await held;
    };
    const first = Promise.resolve(send(w.t.app));
    await atStripe;
    const again = await send(other.t.app);
    const againBody = await again.json();
    release();
    const answered = await first;
    assert.equal(answered.status, 201);
    const refund = await answered.json();
    // the refund the first recorded, as it stands: nothing sent to Stripe again
    assert.equal(again.status, 202, JSON.stringify(againBody));
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(againBody.id, refund.id);
    assert.equal(againBody.status, "processing");
    const replay = await send(other.t.app);
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal((await replay.json()).id, refund.id);
    await w.deliver();
    assert.deepEqual((await stripeRefunds(w.stripe, pay.pi)).refunds.map((r) => r.amount), [1000]);
  }, { file: true });
});

Deno.test("isolates: refunds split across both at once still add up to the threshold", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const pay = await w.pay(200000);
    // each isolate has listed this operator's rows before the burst
    for (const [i, t] of [w.t, other.t].entries()) {
      assert.equal(
        statusOf(
          await t.services.refunds.create(w.ctx(w.operator), {
            transaction_id: pay.txnId,
            amount: 1000 + i,
            reason: "requested_by_customer",
            note: "warm",
          }),
        ),
        201,
      );
    }
    const results = await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) =>
          [w.t, other.t][i % 2].services.refunds.create(w.ctx(w.operator, `split-${i}`), {
            transaction_id: pay.txnId,
            amount: 11900 + i, // not the same refund twice
            reason: "requested_by_customer",
            note: "split across isolates at once",
          }).catch((e) => e),
      ),
    );
    for (const r of results) assert.ok(!(r instanceof Error) || r instanceof AppError, String(r));
    const sent = results.filter((r) => !(r instanceof Error) && statusOf(r) === 201);
    const total = 2001 + sent.reduce((n, r) => n + r.refund.amount, 0);
    assert.ok(total < 50000, `sent without a second person: ${total}`);
    assert.equal(sent.length, 4, "2,001 + 4 × about 11,900 stays under 50,000, a fifth does not");
  }, { env: { REFUND_APPROVAL_THRESHOLD: "50000" }, file: true });
});

Deno.test("isolates: an alert's refunds under one Idempotency-Key on both at once refund once", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const pay = await w.pay(2_000);
    const raised = await raiseAlerts(
      raiseDeps(w.t),
      systemContext("test"),
      customerTarget(pay.customer),
      [velocityHit(pay.txnId, new Date(w.clock.now()).toISOString())],
      () => ({}),
    );
    const path = `/api/admin/payments/fraud/alerts/${raised.alerts[0]}/refunds`;
    const h = await stepUpHeaders(w.t, w.operator);
    const send = (t: typeof w.t) =>
      t.app.request(
        path,
        jsonRequest("POST", { ...h, "idempotency-key": "alert-once" }, { note: "stolen card" }),
      );
    const answers = await Promise.all([send(w.t), send(other.t)]);
    const bodies = await Promise.all(answers.map((r) => r.json()));
    const statuses = answers.map((r) => r.status);
    assert.ok(statuses.includes(200), JSON.stringify(bodies));
    for (const s of statuses) assert.ok([200, 409].includes(s), JSON.stringify(bodies));
    await w.deliver();
    assert.deepEqual((await stripeRefunds(w.stripe, pay.pi)).refunds.map((r) => r.amount), [2000]);
    await assertAuditValid(w);
  }, { file: true });
});

Deno.test("isolates: a refund whose webhooks another isolate applies while Stripe answers settles once", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const pay = await w.pay(5000);
    // what settling reads was read ahead while Stripe was called; the other isolate moves it
    w.hooks.afterStripeCall = async () => {
      w.hooks.afterStripeCall = undefined;
      assert.ok((await other.deliver()) > 0, "the refund's webhooks were delivered first");
    };
    const r = await askRefund(w, pay.txnId, 1500, "webhooks first, elsewhere");
    assert.equal(r.refund.status, "succeeded");
    await w.deliver();
    const txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_refunded, 1500);
    assert.equal(txn.amount_reserved, 0);
    const ledger = await allLedgerEntries(w.t.kv, pay.customer);
    assert.deepEqual(ledger.filter((e) => e.type === "refund").map((e) => e.amount), [-1500]);
    await assertAuditValid(w);
  }, { file: true });
});
