/**
 * Money moves at most once and nothing is lost between Stripe and KV
 * (README: money moves at most once and is never unrecorded), against the emulator through the SDK.
 */
import assert from "node:assert/strict";
import { isUndecided } from "../domain/refund.ts";
import { AppError } from "../core/errors.ts";
import { reconcileRefunds } from "../services/refunds/service.ts";
import { allLedgerEntries } from "../kv/customers.ts";
import type { RefundWorld } from "./helpers/refunds.ts";
import { stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import type Stripe from "stripe";
import { parseConfig } from "../config.ts";
import { ManualClock } from "../core/clock.ts";
import type { CallContext } from "../domain/actor.ts";
import type { Deps } from "../services/deps.ts";
import { silentLogger } from "../core/log.ts";
import { createServices } from "../services/mod.ts";
import { createStripeGateway } from "../services/stripe/gateway.ts";
import { TEST_SIGNING_KEY } from "./helpers/app.ts";
import { startTestEmulator, stripeFor } from "./helpers/emulator.ts";

const HOUR = 3600_000;

function ask(w: RefundWorld, txnId: string, amount?: number, key?: string) {
  return w.t.services.refunds.create(w.ctx(w.operator, key), {
    transaction_id: txnId,
    ...(amount !== undefined ? { amount } : {}),
    reason: "requested_by_customer",
    note: "customer asked",
    confirm_duplicate: true,
  });
}

/** Local totals equal Stripe's, nothing stays reserved, and the ledger holds each refund once. */
async function assertMatchesStripe(
  w: RefundWorld,
  pay: { pi: Stripe.PaymentIntent; txnId: string; customer: string },
  expectedRefunded: number,
) {
  const txn = await w.t.services.transactions.get(pay.txnId);
  const stripe = await stripeRefunds(w.stripe, pay.pi);
  assert.equal(stripe.amount_refunded, expectedRefunded, "Stripe's refunded amount");
  assert.equal(txn.amount_refunded, stripe.amount_refunded, "local refunded == Stripe");
  assert.equal(txn.amount_reserved, 0, "nothing left reserved");
  const ledger = await allLedgerEntries(w.t.kv, pay.customer);
  const refunded = ledger.filter((e) => e.type === "refund" || e.type === "refund_reversal")
    .reduce((n, e) => n - e.amount, 0);
  assert.equal(refunded, expectedRefunded, "the ledger refunds each refund once");
  return { txn, stripe };
}

Deno.test("refundService.create(): concurrent refunds beyond the amount never reserve more than was paid", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => ask(w, pay.txnId, 1000, `concurrent-${i}`)),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    assert.equal(ok.length, 5);
    for (const r of refused) {
      assert.ok(r.reason instanceof AppError);
      assert.equal(r.reason.code, "amount_exceeds_refundable");
    }
    await w.deliver();
    const { stripe } = await assertMatchesStripe(w, pay, 5000);
    assert.equal(stripe.refunds.length, 5);
    const listed = await w.t.services.refunds.list({ limit: 100, transaction_id: pay.txnId });
    assert.equal(listed.data.length, 5);
    assert.ok(listed.data.every((r) => r.status === "succeeded"));
  });
});

Deno.test("refundService.create(): an answer lost after Stripe acted is settled by reconciliation, then the webhook changes nothing", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    w.emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
    const res = await ask(w, pay.txnId, 1500);
    assert.equal(isUndecided(res.refund.status), true);
    assert.equal(res.refund.status, "processing");
    let txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_reserved, 1500, "still reserved while the outcome is unknown");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1, "Stripe acted");

    w.clock.advance(61_000);
    await w.runJobs();
    const settled = await w.t.services.refunds.get(res.refund.id);
    assert.equal(settled.status, "succeeded");
    assert.ok(settled.stripe_refund?.startsWith("re_"));
    txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_refunded, 1500);

    assert.ok(await w.deliver() > 0);
    await assertMatchesStripe(w, pay, 1500);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  });
});

Deno.test("refundService.create(): an answer lost after Stripe acted is settled by the webhook, then reconciliation changes nothing", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    w.emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
    const res = await ask(w, pay.txnId, 2000);
    assert.equal(res.refund.status, "processing");
    await w.deliver();
    const settled = await w.t.services.refunds.get(res.refund.id);
    assert.equal(settled.status, "succeeded");
    assert.ok(settled.history.some((h) => h.by === "stripe"));

    w.clock.advance(61_000);
    await w.runJobs();
    assert.deepEqual(await w.t.services.refunds.reconcile({ olderThanMs: 0 }), {
      settled: 0,
      released: 0,
      unknown: 0,
      expired: 0,
    });
    await w.deliver();
    await assertMatchesStripe(w, pay, 2000);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  });
});

Deno.test("refundService.create(): the process dying between the Stripe call and the second commit is finished by reconciliation with the same key", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(4000);
    w.hooks.afterStripeCall = () => {
      throw new Error("simulated crash before the second commit");
    };
    await assert.rejects(ask(w, pay.txnId, 2500), /simulated crash/);
    w.hooks.afterStripeCall = undefined;
    const [stuck] =
      (await w.t.services.refunds.list({ limit: 10, transaction_id: pay.txnId })).data;
    assert.equal(stuck.status, "processing");
    await w.dropHeld(); // the webhooks never come either

    w.clock.advance(61_000);
    await w.runJobs();
    assert.equal((await w.t.services.refunds.get(stuck.id)).status, "succeeded");
    const { stripe } = await assertMatchesStripe(w, pay, 2500);
    assert.equal(stripe.refunds.length, 1, "the retry carried the same idempotency key");
    assert.equal(stripe.refunds[0].metadata?.refund_id, stuck.id);
    assert.equal(stripe.refunds[0].metadata?.requested_by, w.operator.id);
  });
});

Deno.test("reconciliation after 24 h looks the refund up at Stripe by its metadata", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(3000);
    w.emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
    const res = await ask(w, pay.txnId, 1000);
    await w.dropHeld();
    w.clock.advance(25 * HOUR);
    const summary = await reconcileRefunds(w.t.services); // what the cron runs
    assert.equal(summary.settled, 1);
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "succeeded");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1, "not sent again");
    await assertMatchesStripe(w, pay, 1000);
  });
});

Deno.test("reconciliation after 24 h releases a refund Stripe never received, with an ops alert", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(3000);
    w.emu.faults.inject({ kind: "server_error", method: "POST", path: "/v1/refunds" });
    const res = await ask(w, pay.txnId, 1000);
    assert.equal(isUndecided(res.refund.status), true);
    w.clock.advance(25 * HOUR);
    assert.equal((await w.t.services.refunds.reconcile()).released, 1);
    const after = await w.t.services.refunds.get(res.refund.id);
    assert.equal(after.status, "failed");
    assert.equal(after.failure_reason, "not_found_at_stripe");
    const txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_reserved, 0);
    assert.equal(txn.amount_refunded, 0);
    const alerts = await w.t.services.refunds.opsAlerts();
    assert.deepEqual(alerts.map((a) => [a.kind, a.refund_id]), [[
      "refund_lost_at_stripe",
      res.refund.id,
    ]]);
    // and it is on the operators' list of open alerts
    const open = await w.t.services.opsAlerts.list({ status: "open", limit: 10 });
    assert.deepEqual(open.data.map((a) => [a.kind, a.refund_id, a.closed_at]), [[
      "refund_lost_at_stripe",
      res.refund.id,
      null,
    ]]);
  });
});

Deno.test("refundService.create(): a 5xx leaves the refund processing and the same-key retry settles it", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(3000);
    w.emu.faults.inject({ kind: "server_error", method: "POST", path: "/v1/refunds" });
    const res = await ask(w, pay.txnId, 1200);
    assert.equal(res.refund.status, "processing");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
    w.clock.advance(61_000);
    await w.runJobs();
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "succeeded");
    await w.deliver();
    await assertMatchesStripe(w, pay, 1200);
  });
});

Deno.test("refundService.create(): Stripe's definite refusal releases the reservation and records the failure", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(2000);
    // Refunded in the Dashboard; its webhooks have not arrived, so we still think 2000 is refundable.
    await w.stripe.refunds.create({ payment_intent: pay.pi.id });
    const err = await ask(w, pay.txnId, 500).catch((e) => e);
    assert.ok(err instanceof AppError);
    // Stripe says the charge cannot be refunded: a state of the charge, so 409, not a 502
    assert.equal(err.code, "charge_not_refundable");
    assert.equal(err.status, 409);
    assert.equal((err.extra?.stripe as { code: string }).code, "charge_already_refunded");
    const id = err.extra?.refund_id as string;
    const failed = await w.t.services.refunds.get(id);
    assert.equal(failed.status, "failed");
    assert.equal(failed.failure_reason, "charge_already_refunded");
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);

    await w.deliver();
    const external = await w.t.services.refunds.list({
      limit: 10,
      requested_by: "stripe_dashboard",
    });
    assert.equal(external.data.length, 1);
    assert.equal(external.data[0].amount, 2000);
    assert.equal(external.data[0].status, "succeeded");
    await assertMatchesStripe(w, pay, 2000);
  });
});

Deno.test("a refund made in the Stripe Dashboard appears once, requested_by stripe_dashboard", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(2500);
    const re = await w.stripe.refunds.create({ payment_intent: pay.pi.id, amount: 700 });
    const held = await w.held();
    await w.deliver();
    // Stripe redelivers: the same events again change nothing.
    for (const h of held) {
      const res = await w.t.app.fetch(
        new Request("http://localhost/api/webhooks/stripe", {
          method: "POST",
          headers: { "content-type": "application/json", "stripe-signature": h.signature },
          body: h.body,
        }),
      );
      await res.body?.cancel();
    }
    await w.t.services.webhooks.drain();
    const listed = await w.t.services.refunds.list({ limit: 10, transaction_id: pay.txnId });
    assert.equal(listed.data.length, 1);
    const [r] = listed.data;
    assert.equal(r.requested_by, "stripe_dashboard");
    assert.equal(r.stripe_refund, re.id);
    assert.equal(r.amount, 700);
    await assertMatchesStripe(w, pay, 700);
  });
});

Deno.test("a refund that fails after Stripe accepted it is taken back on the ledger and raises an ops alert", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(1800, "pm_card_refundFail");
    const res = await ask(w, pay.txnId, 1800);
    assert.equal(isUndecided(res.refund.status), false);
    assert.equal(res.refund.status, "pending");
    await w.deliver();
    const after = await w.t.services.refunds.get(res.refund.id);
    assert.equal(after.status, "failed");
    assert.equal(after.failure_reason, "expired_or_canceled_card");
    assert.deepEqual(after.history.map((h) => h.status), ["processing", "pending", "failed"]);
    const txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_refunded, 0);
    assert.equal(txn.amount_reserved, 0);
    const ledger = await allLedgerEntries(w.t.kv, pay.customer);
    assert.deepEqual(ledger.map((e) => [e.type, e.amount]), [
      ["payment", 1800],
      ["refund", -1800],
      ["refund_reversal", 1800],
    ]);
    const alerts = await w.t.services.refunds.opsAlerts();
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].kind, "refund_failed_after_success");
    assert.equal(alerts[0].refund_id, res.refund.id);
    assert.ok(w.t.logs.some((l) => l.includes("ops alert")));
    const audit = await w.t.services.audit.list({ limit: 50, target: res.refund.id });
    const actions = audit.data.map((e) => e.action);
    assert.ok(actions.includes("ops_alert.raise"));
    assert.ok(actions.includes("refund.failed"));
  });
});

Deno.test("refundService.create(): a payment made without a PaymentIntent is refunded by charge", async () => {
  await withRefundWorld(async (w) => {
    const charge = await w.stripe.charges.create({
      amount: 900,
      currency: "usd",
      source: "tok_visa",
    });
    await w.deliver();
    const txn = await w.t.services.transactions.get(charge.id);
    const res = await ask(w, txn.id, 400);
    assert.equal(res.refund.status, "succeeded");
    const list = await w.stripe.refunds.list({ charge: charge.id });
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0].charge, charge.id);
    assert.equal(list.data[0].payment_intent, null);
    await w.deliver();
    assert.equal((await w.t.services.transactions.get(txn.id)).amount_refunded, 400);
  });
});

Deno.test("refundService.create() from two isolates on one KV never reserves more than was paid", async () => {
  const emu = await startTestEmulator();
  const kv = await Deno.openKv(":memory:");
  // A second handle on the same store: its own audit queue and applier locks, as in another
  // isolate, so only KV's versionstamp checks stand between the two.
  const kvs = [kv, anotherIsolatesHandle(kv)];
  try {
    const isolates = kvs.map((kv) => {
      const clock = new ManualClock(Date.now());
      const config = parseConfig({
        KV_PATH: ":memory:",
        STRIPE_API_URL: emu.url,
        STRIPE_SECRET_KEY: "sk_test_isolates",
        STRIPE_RATE_LIMIT_PER_S: "10000",
      });
      const deps: Deps = {
        kv,
        clock,
        config: { ...config, auditSigningKey: TEST_SIGNING_KEY },
        log: silentLogger(),
        stripe: createStripeGateway({ kv, clock, config, log: silentLogger(), fetch: emu.fetch }),
      };
      return createServices(deps);
    });
    const stripe = stripeFor(emu);
    const pi = await stripe.paymentIntents.create({
      amount: 5000,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    await isolates[0].stripeEvents.applyObject(pi);
    const txnId = (await isolates[0].transactions.get(pi.id)).id;
    const ctx = (i: number): CallContext => ({
      actor: { type: "admin", id: `adm_isolate${i}`, role: "operator" },
      request: null,
      second_factor: true,
      idempotency_key: `isolate-${i}`,
    });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        isolates[i % 2].refunds.create(ctx(i), {
          transaction_id: txnId,
          amount: 900,
          reason: "duplicate",
          note: "n",
        })),
    );
    const made = results.filter((r) => r.status === "fulfilled").length;
    for (const r of results) {
      if (r.status === "rejected") {
        assert.ok(["amount_exceeds_refundable", "conflict"].includes((r.reason as AppError).code));
      }
    }
    assert.equal(made, 5, "5 × 900 fit in 5000, a sixth does not");
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.amount_refunded, 4500);
    const txn = await isolates[1].transactions.get(txnId);
    assert.equal(txn.amount_refunded, 4500);
    assert.equal(txn.amount_reserved, 0);
  } finally {
    kv.close();
    await emu.close();
  }
});

function anotherIsolatesHandle(kv: Deno.Kv): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
