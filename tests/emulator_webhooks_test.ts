import assert from "node:assert/strict";
import Stripe from "stripe";
import { signPayload } from "../emulator/mod.ts";
import { withEmulator, withWebhookReceiver } from "./helpers/emulator.ts";

Deno.test("emulator: signPayload matches the SDK's own test signature", async () => {
  const sdk = new Stripe("sk_test_x", { httpClient: Stripe.createFetchHttpClient() });
  const payload = JSON.stringify({ id: "evt_1", object: "event" });
  const expected = await sdk.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: "whsec_abc",
    timestamp: 1_700_000_000,
    cryptoProvider: Stripe.createSubtleCryptoProvider(),
  });
  assert.equal(await signPayload(payload, "whsec_abc", 1_700_000_000), expected);
});

Deno.test("emulator: every change is delivered as a signed event, in order per object", async () => {
  await withWebhookReceiver(async (receiver) => {
    await withEmulator(async ({ stripe, emu }) => {
      emu.setWebhook({ url: receiver.url, secret: receiver.secret });
      const customer = await stripe.customers.create({ email: "hook@example.com" });
      const pi = await stripe.paymentIntents.create(
        { amount: 1000, currency: "usd", customer: customer.id, payment_method: "pm_card_visa" },
        { idempotencyKey: "pi-create" },
      );
      await stripe.paymentIntents.confirm(pi.id);
      await stripe.refunds.create({ payment_intent: pi.id, amount: 400 });
      await emu.deliveries();
      const types: string[] = receiver.events.map((e) => e.type);
      for (
        const t of [
          "customer.created",
          "payment_intent.created",
          "charge.succeeded",
          "payment_intent.succeeded",
          "refund.created",
          "charge.refunded",
        ]
      ) assert.ok(types.includes(t), `${t} delivered`);
      const piEvents = receiver.events
        .filter((e) => (e.data.object as { id: string }).id === pi.id)
        .map((e) => e.type);
      assert.deepEqual(piEvents, ["payment_intent.created", "payment_intent.succeeded"]);
      const created = receiver.events.find((e) => e.type === "payment_intent.created")!;
      assert.equal(created.request?.idempotency_key, "pi-create");
      assert.match(created.request?.id ?? "", /^req_/);
      assert.equal(created.livemode, false);
      const refunded = receiver.events.find((e) => e.type === "charge.refunded")!;
      assert.deepEqual(refunded.data.previous_attributes, { amount_refunded: 0, refunded: false });
      const stored = await stripe.events.retrieve(created.id);
      assert.equal(stored.pending_webhooks, 0);
    });
  });
});

Deno.test("emulator: a delivery refused with 500 is retried", async () => {
  await withWebhookReceiver(async (receiver) => {
    const webhook = { url: receiver.url, secret: receiver.secret };
    await withEmulator(async ({ stripe, emu }) => {
      receiver.failNext(2);
      await stripe.customers.create({ email: "retry@example.com" });
      await emu.deliveries();
      assert.equal(receiver.attempts, 3);
      assert.deepEqual(receiver.events.map((e) => e.type), ["customer.created"]);
    }, { webhook, webhookRetryDelaysMs: [5, 5] });
  });
});

Deno.test("emulator: an endpoint that never answers an attempt gets the event again", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  const seen: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const event = JSON.parse(await req.text()) as { id: string };
    seen.push(event.id);
    if (seen.length === 1) await held; // the first attempt's answer never comes in time
    return new Response("ok");
  });
  const logs: string[] = [];
  try {
    const webhook = { url: `http://127.0.0.1:${server.addr.port}/hook`, secret: "whsec_x" };
    await withEmulator(async ({ stripe, emu }) => {
      await stripe.customers.create({ email: "slow@example.com" });
      await emu.deliveries();
      assert.equal(seen.length, 2, "delivered again after the attempt timed out");
      assert.equal(seen[0], seen[1]);
      assert.ok(logs.some((l) => l.includes("no answer in 200 ms")), logs.join("\n"));
    }, { webhook, webhookRetryDelaysMs: [5], webhookTimeoutMs: 200, log: (m) => logs.push(m) });
  } finally {
    release();
    await server.shutdown();
  }
});

Deno.test("emulator: deliveries give up after the retry schedule", async () => {
  await withWebhookReceiver(async (receiver) => {
    const webhook = { url: receiver.url, secret: receiver.secret };
    const logs: string[] = [];
    await withEmulator(async ({ stripe, emu }) => {
      receiver.failNext(10);
      await stripe.customers.create({ email: "down@example.com" });
      await emu.deliveries();
      assert.equal(receiver.attempts, 2);
      assert.ok(logs.some((l) => l.includes("giving up")));
    }, { webhook, webhookRetryDelaysMs: [5], log: (m) => logs.push(m) });
  });
});

Deno.test("emulator: the dispute card's dispute events follow the charge's", async () => {
  await withWebhookReceiver(async (receiver) => {
    const webhook = { url: receiver.url, secret: receiver.secret };
    await withEmulator(async ({ stripe, emu }) => {
      await stripe.paymentIntents.create({
        amount: 5100,
        currency: "usd",
        payment_method: "pm_card_createDispute",
        confirm: true,
      });
      await emu.deliveries();
      const events = (await stripe.events.list({ limit: 100 })).data.reverse().map((e) => e.type);
      assert.ok(events.indexOf("charge.succeeded") < events.indexOf("charge.dispute.created"));
      assert.ok(receiver.events.some((e) => e.type === "charge.dispute.funds_withdrawn"));
    }, { webhook, disputeDelayMs: 20 });
  });
});

Deno.test("emulator: held webhooks are recorded, then released in one burst, newest first and twice", async () => {
  await withWebhookReceiver(async (receiver) => {
    await withEmulator(async ({ stripe, emu }) => {
      emu.setWebhook({ url: receiver.url, secret: receiver.secret });
      const res = await fetch(`${emu.url}/_emulator/webhooks/hold`, { method: "POST" });
      assert.deepEqual(await res.json(), { held: 0 });
      const customer = await stripe.customers.create({ email: "held@example.com" });
      await stripe.customers.update(customer.id, { name: "Held" });
      await emu.deliveries();
      assert.equal(receiver.events.length, 0, "nothing is delivered while held");
      const stored = await stripe.events.list({ limit: 10 });
      assert.equal(stored.data.length, 2, "the events are recorded at Stripe all the same");
      const released = await fetch(`${emu.url}/_emulator/webhooks/release`, {
        method: "POST",
        body: JSON.stringify({ order: "reverse", duplicate: true }),
      });
      assert.deepEqual(await released.json(), { released: 4 });
      await emu.deliveries();
      const types = receiver.events.map((e) => e.type).sort();
      assert.deepEqual(types, [
        "customer.created",
        "customer.created",
        "customer.updated",
        "customer.updated",
      ]);
      // delivery resumes as usual afterwards
      await stripe.customers.update(customer.id, { name: "Back" });
      await emu.deliveries();
      assert.equal(receiver.events.length, 5);
      const bad = await fetch(`${emu.url}/_emulator/webhooks/release`, {
        method: "POST",
        body: JSON.stringify({ order: "sideways" }),
      });
      assert.equal(bad.status, 400);
      await bad.body?.cancel();
    });
  });
});
