import assert from "node:assert/strict";
import Stripe from "stripe";
import { responseHeader, withEmulator } from "./helpers/emulator.ts";

Deno.test("emulator: the same key and params replays the first answer", async () => {
  await withEmulator(async ({ stripe }) => {
    const params = { email: "idem@example.com", metadata: { n: "1" } };
    const first = await stripe.customers.create(params, { idempotencyKey: "key-1" });
    const again = await stripe.customers.create(params, { idempotencyKey: "key-1" });
    assert.equal(again.id, first.id);
    assert.equal(responseHeader(again, "idempotent-replayed"), "true");
    assert.equal(responseHeader(first, "idempotent-replayed"), undefined);
    assert.notEqual(again.lastResponse.requestId, first.lastResponse.requestId);
    assert.equal((await stripe.customers.list()).data.length, 1);
  });
});

Deno.test("emulator: a replayed card decline is the same 402", async () => {
  await withEmulator(async ({ stripe }) => {
    const params = {
      amount: 100,
      currency: "usd",
      payment_method: "pm_card_chargeDeclined",
      confirm: true,
    };
    const errs = [];
    for (let i = 0; i < 2; i++) {
      errs.push(
        await stripe.paymentIntents.create(params, { idempotencyKey: "decline-1" }).catch((e) => e),
      );
    }
    assert.ok(errs.every((e) => e instanceof Stripe.errors.StripeCardError));
    assert.equal(errs[0].payment_intent?.id, errs[1].payment_intent?.id);
    assert.equal(errs[1].headers?.["idempotent-replayed"], "true");
    assert.equal((await stripe.paymentIntents.list()).data.length, 1);
  });
});

Deno.test("emulator: the same key with different params is an idempotency_error", async () => {
  await withEmulator(async ({ stripe }) => {
    await stripe.customers.create({ email: "a@example.com" }, { idempotencyKey: "key-2" });
    await assert.rejects(
      stripe.customers.create({ email: "b@example.com" }, { idempotencyKey: "key-2" }),
      (e: Stripe.errors.StripeError) =>
        e instanceof Stripe.errors.StripeIdempotencyError && e.statusCode === 400,
    );
  });
});

/** A busy machine: the isolate runs nothing else for `ms`. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* busy */ }
}

Deno.test("emulator: a concurrent request with an in-flight key gets 409", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    // the first request is held until the second is answered: before, a 150 ms latency
    // raced a 30 ms timer, and a stall of the isolate under load let it end first (a replay)
    let release = () => {};
    const until = new Promise<void>((r) => release = r);
    const held = emu.faults.inject({ kind: "latency", until, path: "/v1/customers" });
    const params = { email: "slow@example.com" };
    const a = stripe.customers.create(params, { idempotencyKey: "key-3" });
    for (let i = 0; held.remaining() > 0; i++) { // until the first holds the key
      assert.ok(i < 1000, "the first request reached the emulator");
      await new Promise((r) => setTimeout(r, 5));
    }
    const b = stripe.customers.create(params, { idempotencyKey: "key-3" }).catch((e) => e);
    stall(200);
    const err = await b as Stripe.errors.StripeError;
    release();
    assert.ok((await a).id.startsWith("cus_"));
    assert.ok(err instanceof Stripe.errors.StripeError, "the second request is refused");
    assert.equal(err.statusCode, 409);
    assert.equal((err.raw as { type: string }).type, "idempotency_error");
  });
});

Deno.test("emulator: idempotency keys expire after 24 hours of the injected clock", async () => {
  let now = Date.UTC(2030, 0, 1);
  await withEmulator(async ({ stripe }) => {
    const first = await stripe.customers.create({ email: "x@example.com" }, {
      idempotencyKey: "key-4",
    });
    now += 24 * 3600 * 1000 + 1;
    const second = await stripe.customers.create({ email: "x@example.com" }, {
      idempotencyKey: "key-4",
    });
    assert.notEqual(second.id, first.id);
  }, { now: () => now });
});
