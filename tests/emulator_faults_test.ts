import assert from "node:assert/strict";
import Stripe from "stripe";
import { RequestCounter } from "../emulator/faults.ts";
import { responseHeader, startTestEmulator, stripeFor, withEmulator } from "./helpers/emulator.ts";

Deno.test("emulator: latency delays the answer", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    emu.faults.inject({ kind: "latency", ms: 120, method: "GET" });
    const started = performance.now();
    await stripe.customers.list();
    assert.ok(performance.now() - started >= 110);
  });
});

Deno.test("emulator: a latency held until released applies `times` times only, then acts", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const held = emu.faults.inject({ kind: "latency", ms: Infinity, method: "POST" });
    let answered = false;
    const first = stripe.customers.create({ email: "held@example.com" }).then((c) => {
      answered = true;
      return c;
    });
    while (held.remaining() > 0) await new Promise((r) => setTimeout(r, 1));
    // the second is not held (a busy machine cannot fake this, as it could a duration)
    await stripe.customers.create({ email: "next@example.com" });
    assert.equal(answered, false, "the first is still held");
    assert.equal((await stripe.customers.list()).data.length, 1, "and has not acted yet");
    await held.release();
    assert.equal((await stripe.customers.list()).data.length, 2, "acted once released");
    assert.equal((await first).email, "held@example.com");
  });
});

Deno.test("emulator: closing lets the answers still held go on", async () => {
  const emu = await startTestEmulator();
  const stripe = stripeFor(emu);
  emu.faults.inject({ kind: "latency", ms: Infinity, method: "GET" });
  const held = stripe.customers.list().catch((e) => e);
  // the request may be on its way still: a hold it takes after the close does not wait either
  while (emu.requests.total() === 0) await new Promise((r) => setTimeout(r, 1));
  await emu.close();
  await held;
});

Deno.test("emulator: server_error answers 500 without acting", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const handle = emu.faults.inject({ kind: "server_error", path: /^\/v1\/customers/ });
    await assert.rejects(
      stripe.customers.create({ email: "s@example.com" }, { idempotencyKey: "k" }),
      (e: Stripe.errors.StripeError) =>
        e instanceof Stripe.errors.StripeAPIError && e.statusCode === 500,
    );
    assert.equal(handle.remaining(), 0);
    assert.equal((await stripe.customers.list()).data.length, 0);
    const retried = await stripe.customers.create({ email: "s@example.com" }, {
      idempotencyKey: "k",
    });
    assert.equal(responseHeader(retried, "idempotent-replayed"), undefined);
  });
});

Deno.test("emulator: rate_limit and lock_timeout answer 429", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    emu.faults.inject({ kind: "rate_limit", method: "POST", path: "/v1/refunds" });
    emu.faults.inject({ kind: "lock_timeout", method: "POST", path: "/v1/refunds" });
    const pi = await stripe.paymentIntents.create({
      amount: 100,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const limited = await stripe.refunds.create({ payment_intent: pi.id }).catch((e) => e);
    assert.ok(limited instanceof Stripe.errors.StripeRateLimitError);
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers?.["stripe-rate-limited-reason"], "global-rate");
    const locked = await stripe.refunds.create({ payment_intent: pi.id }).catch((e) => e);
    assert.ok(locked instanceof Stripe.errors.StripeRateLimitError);
    assert.equal(locked.code, "lock_timeout");
    const refund = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(refund.status, "succeeded");
  });
});

Deno.test("emulator: act_then_drop acts, loses the answer, and replays it on retry", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const pi = await stripe.paymentIntents.create({
      amount: 2000,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
    const params = { payment_intent: pi.id, amount: 500, metadata: { refund_id: "rfd_x" } };
    await assert.rejects(
      stripe.refunds.create(params, { idempotencyKey: "rfd_x" }),
      Stripe.errors.StripeConnectionError,
    );
    const listed = await stripe.refunds.list({ payment_intent: pi.id });
    assert.equal(listed.data.length, 1, "Stripe acted although the answer was lost");
    const replay = await stripe.refunds.create(params, { idempotencyKey: "rfd_x" });
    assert.equal(replay.id, listed.data[0].id);
    assert.equal(responseHeader(replay, "idempotent-replayed"), "true");
    assert.equal((await stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded, 500);
  });
});

Deno.test("emulator: faults can be managed over HTTP for manual demos", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const res = await fetch(`${emu.url}/_emulator/faults`, {
      method: "POST",
      body: JSON.stringify({ kind: "server_error", path: "/v1/customers", times: 5 }),
    });
    assert.equal(res.status, 200);
    assert.match((await res.json()).id, /^fault_/);
    await assert.rejects(stripe.customers.list(), Stripe.errors.StripeAPIError);
    const cleared = await fetch(`${emu.url}/_emulator/faults`, { method: "DELETE" });
    await cleared.body?.cancel();
    assert.equal((await stripe.customers.list()).data.length, 0);
  });
});

Deno.test("emulator: the request counter sees every /v1 request", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    for (let i = 0; i < 5; i++) await stripe.customers.list();
    assert.equal(emu.requests.total(), 5);
    assert.equal(emu.requests.maxInWindow(60_000), 5);
    emu.requests.reset();
    assert.equal(emu.requests.total(), 0);
  });
});

// The windows on given times: five requests in a row take more than 50 ms on a busy machine.
Deno.test("emulator: the request counter finds the busiest window", () => {
  const requests = new RequestCounter();
  for (const at of [0, 10, 20, 30, 40, 100]) requests.record(at);
  assert.equal(requests.maxInWindow(50), 5);
  assert.equal(requests.maxInWindow(10), 1);
  assert.equal(requests.maxInWindow(101), 6);
});
