import assert from "node:assert/strict";
import { type TestApp } from "./helpers/app.ts";
import {
  kvSnapshot,
  makeEvent,
  paymentIntentObject,
  postEvent,
  signatureFor,
  TEST_WEBHOOK_SECRETS,
  withWebhookApp,
} from "./helpers/webhooks.ts";
import { listJobs } from "../kv/jobs.ts";
import { getEvent } from "../kv/webhook_events.ts";

function customerObject(id = `cus_${crypto.randomUUID().slice(0, 8)}`) {
  return {
    id,
    object: "customer",
    created: 1_790_000_000,
    email: "ada@example.com",
    name: "Ada",
    metadata: {},
    livemode: false,
  };
}

async function assertRefused(res: Response, status: number, code: string) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  assert.equal(body.code, code);
  return body;
}

Deno.test("POST /api/webhooks/stripe stores a signed event, answers 200 and applies it", async () => {
  await withWebhookApp(async (t, applier) => {
    const pi = paymentIntentObject({ amount: 4200, customer: "cus_intake1" });
    const event = makeEvent("payment_intent.succeeded", pi);
    const res = await postEvent(t.app, event, { clock: t.clock });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { received: true, event_id: event.id });
    await t.services.webhooks.drain();
    assert.deepEqual(applier.calls, [event.id]);
    const stored = await t.services.webhooks.get(event.id);
    assert.equal(stored.status, "processed");
    assert.equal(stored.type, "payment_intent.succeeded");
    assert.equal(stored.attempts, 1);
    assert.deepEqual(stored.object, { id: pi.id, type: "payment_intent" });
    assert.deepEqual(stored.payload, JSON.parse(JSON.stringify(event)));
    const txn = await t.services.transactions.get(pi.id as string);
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.amount, 4200);
    assert.deepEqual(await listJobs(t.kv), [], "the job goes once the event is processed");
  });
});

Deno.test("the intake refuses unsigned, forged, wrongly keyed, stale and malformed deliveries and stores nothing", async (tc) => {
  await withWebhookApp(async (t, applier) => {
    const before = await kvSnapshot(t.kv);
    const event = makeEvent("customer.created", customerObject());
    const body = JSON.stringify(event);

    await tc.step("missing Stripe-Signature", async () => {
      const res = await postEvent(t.app, event, { signature: null });
      const problem = await assertRefused(res, 400, "signature_invalid");
      assert.match(problem.detail, /missing/);
    });
    await tc.step("forged: a valid signature of another body", async () => {
      const signature = await signatureFor(body.replace("Ada", "Eve"), { clock: t.clock });
      await assertRefused(await postEvent(t.app, body, { signature }), 400, "signature_invalid");
    });
    await tc.step("signed with a secret the service does not have", async () => {
      const res = await postEvent(t.app, body, { clock: t.clock, secret: "whsec_someone_else" });
      await assertRefused(res, 400, "signature_invalid");
    });
    await tc.step("stale: signed more than 300 s before now", async () => {
      const timestamp = Math.floor(t.clock.now() / 1000) - 301;
      const res = await postEvent(t.app, body, { timestamp });
      const problem = await assertRefused(res, 400, "signature_invalid");
      assert.match(problem.detail, /300 s/);
    });
    await tc.step("ahead: signed more than 300 s after now (an hour, ten years)", async () => {
      for (const ahead of [301, 3600, 10 * 365 * 86400]) {
        const timestamp = Math.floor(t.clock.now() / 1000) + ahead;
        const res = await postEvent(t.app, body, { timestamp });
        const problem = await assertRefused(res, 400, "signature_invalid");
        assert.match(problem.detail, new RegExp(`Stripe-Signature timestamp .* ${ahead} s ahead`));
        assert.match(problem.detail, /more than 300 s\); check the sender's clock/);
      }
    });
    await tc.step("a header with no v1 signature", async () => {
      const res = await postEvent(t.app, body, {
        signature: `t=${Math.floor(t.clock.now() / 1000)}`,
      });
      await assertRefused(res, 400, "signature_invalid");
    });
    await tc.step("a header that is not Stripe's format", async () => {
      await assertRefused(
        await postEvent(t.app, body, { signature: "garbage" }),
        400,
        "signature_invalid",
      );
    });

    await t.services.webhooks.drain();
    assert.deepEqual(await kvSnapshot(t.kv), before, "nothing was stored");
    assert.deepEqual(applier.calls, []);
  });
});

Deno.test("the intake accepts a signature 299 s old (within Stripe's tolerance)", async () => {
  await withWebhookApp(async (t) => {
    const timestamp = Math.floor(t.clock.now() / 1000) - 299;
    const res = await postEvent(t.app, makeEvent("customer.created", customerObject()), {
      timestamp,
    });
    assert.equal(res.status, 200);
  });
});

Deno.test("the intake refuses a body over 512 KiB with 413, with or without Content-Length, storing nothing", async () => {
  await withWebhookApp(async (t, applier) => {
    const before = await kvSnapshot(t.kv);
    const big = makeEvent("customer.updated", {
      ...customerObject(),
      metadata: { blob: "x".repeat(530_000) },
    });
    const body = JSON.stringify(big);
    const signature = await signatureFor(body, { clock: t.clock });
    // Request bodies from a string carry no Content-Length: the cap applies while reading.
    const streamed = await t.app.request("/api/webhooks/stripe", {
      method: "POST",
      headers: { "stripe-signature": signature, "content-type": "application/json" },
      body: new Blob([body]).stream(),
    });
    await assertRefused(streamed, 413, "payload_too_large");
    const withLength = (length: string) =>
      t.app.request("/api/webhooks/stripe", {
        method: "POST",
        headers: {
          "stripe-signature": signature,
          "content-type": "application/json",
          "content-length": length,
        },
        body,
      });
    await assertRefused(await withLength(String(body.length)), 413, "payload_too_large");
    // A length that understates the body (a server would cut it there) is no way around the cap.
    const understated = await withLength("100");
    await assertRefused(understated, 413, "payload_too_large");
    assert.deepEqual(await kvSnapshot(t.kv), before);
    assert.deepEqual(applier.calls, []);
  });
});

Deno.test("an event sent without Content-Length (a chunked body) is read under the cap and stored", async () => {
  await withWebhookApp(async (t, applier) => {
    const event = makeEvent("customer.created", customerObject());
    const body = JSON.stringify(event);
    const res = await t.app.request("/api/webhooks/stripe", {
      method: "POST",
      headers: {
        "stripe-signature": await signatureFor(body, { clock: t.clock }),
        "content-type": "application/json",
      },
      body: new Blob([body]).stream(),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).event_id, event.id);
    await t.services.webhooks.drain();
    assert.deepEqual(applier.calls, [event.id]);
    assert.deepEqual((await t.services.webhooks.get(event.id)).payload, event);
  });
});

Deno.test("the intake stores events larger than one KV value (chunked) intact", async () => {
  await withWebhookApp(async (t) => {
    const event = makeEvent("customer.updated", {
      ...customerObject(),
      // 200 000 UTF-8 bytes, half of them random text (which deflates little): still more
      // than one chunk deflated
      metadata: { notes: randomText(100_000) + "é".repeat(50_000) },
    });
    const res = await postEvent(t.app, event, { clock: t.clock });
    assert.equal(res.status, 200);
    await t.services.webhooks.drain();
    const stored = await t.services.webhooks.get(event.id);
    assert.ok(stored.payload_bytes > 200_000);
    const record = (await getEvent(t.kv, event.id)).value!;
    assert.ok(record.payload_chunks >= 2, `${record.payload_chunks} chunks`);
    assert.deepEqual(stored.payload, JSON.parse(JSON.stringify(event)));
  });
});

Deno.test("during a secret rotation an event signed with the previous secret verifies", async () => {
  await withWebhookApp(async (t, applier) => {
    const event = makeEvent("customer.created", customerObject());
    const res = await postEvent(t.app, event, { clock: t.clock, secret: TEST_WEBHOOK_SECRETS[1] });
    assert.equal(res.status, 200);
    await t.services.webhooks.drain();
    assert.deepEqual(applier.calls, [event.id]);
  });
});

/** The customer's ledger: one payment entry per payment, balance == sum of entries. */
async function ledgerOf(t: TestApp, customer: string) {
  const view = await t.services.customers.get(customer, { limit: 100 });
  return { entries: view.ledger.data.map((e) => [e.type, e.amount]), balances: view.balances };
}

Deno.test("a redelivered event is acknowledged as a duplicate and applied once", async () => {
  await withWebhookApp(async (t, applier) => {
    const event = makeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({ amount: 2500, customer: "cus_dup1" }),
    );
    const first = await postEvent(t.app, event, { clock: t.clock });
    await t.services.webhooks.drain();
    t.clock.advance(3 * 24 * 3600_000); // Stripe's retries run for three days
    const again = await postEvent(t.app, event, { clock: t.clock });
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { received: true, event_id: event.id, duplicate: true });
    await t.services.webhooks.drain();
    assert.deepEqual(applier.calls, [event.id]);
    const page = await t.services.webhooks.list({ limit: 10 });
    assert.deepEqual(page.data.map((e) => e.id), [event.id]);
    const ledger = await ledgerOf(t, "cus_dup1");
    assert.deepEqual(ledger.entries, [["payment", 2500]]);
    assert.deepEqual(ledger.balances, [{ currency: "usd", amount: 2500, entries: 1 }]);
  });
});

Deno.test("concurrent deliveries of one event store it once and apply it once", async () => {
  await withWebhookApp(async (t, applier) => {
    const event = makeEvent(
      "payment_intent.succeeded",
      paymentIntentObject({ amount: 1800, customer: "cus_dup2" }),
    );
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => postEvent(t.app, event, { clock: t.clock })),
    );
    const bodies = await Promise.all(responses.map((r) => r.json()));
    assert.ok(responses.every((r) => r.status === 200));
    assert.equal(bodies.filter((b) => b.duplicate !== true).length, 1);
    await t.services.webhooks.drain();
    assert.deepEqual(applier.calls, [event.id]);
    assert.deepEqual(await listJobs(t.kv), []);
    assert.deepEqual((await ledgerOf(t, "cus_dup2")).entries, [["payment", 1800]]);
  });
});

Deno.test("a burst of 60 concurrent distinct events is each stored, applied once and settled", async () => {
  await withWebhookApp(async (t, applier) => {
    const events = Array.from({ length: 60 }, (_, i) =>
      makeEvent(
        "payment_intent.succeeded",
        paymentIntentObject({ amount: 100 + i, customer: `cus_burst${i % 3}` }),
      ));
    const responses = await Promise.all(events.map((e) => postEvent(t.app, e, { clock: t.clock })));
    assert.ok(responses.every((r) => r.status === 200));
    await t.services.webhooks.drain();
    assert.equal(new Set(applier.calls).size, 60);
    const processed = await t.services.webhooks.list({ status: "processed", limit: 100 });
    assert.equal(processed.data.length, 60);
    assert.deepEqual(await listJobs(t.kv), []);
    const total = (await ledgerOf(t, "cus_burst0")).balances[0].amount;
    assert.equal(
      total,
      events.filter((_, i) => i % 3 === 0).reduce((n, _, k) => n + 100 + 3 * k, 0),
    );
  });
});

Deno.test("an unknown event type is stored and acknowledged, not refused", async () => {
  await withWebhookApp(async (t, applier) => {
    const event = makeEvent("issuing_card.created", { id: "ic_123", object: "issuing.card" });
    const res = await postEvent(t.app, event, { clock: t.clock });
    assert.equal(res.status, 200);
    await t.services.webhooks.drain();
    assert.deepEqual(applier.calls, [event.id]);
    const stored = await t.services.webhooks.get(event.id);
    assert.equal(stored.type, "issuing_card.created");
    assert.equal(stored.status, "ignored");
    assert.deepEqual(await listJobs(t.kv), []);
  });
});

Deno.test("a signed body that is not an event is 422 and stores nothing", async () => {
  await withWebhookApp(async (t) => {
    const before = await kvSnapshot(t.kv);
    for (const body of ["not json", JSON.stringify({ hello: "world" })]) {
      const res = await postEvent(t.app, body, { clock: t.clock });
      await assertRefused(res, 422, "validation_failed");
    }
    // valid JSON that is no object is named as such, not as "not valid JSON"
    const shapes: [string, string][] = [
      ["null", "null"],
      ["[]", "an array"],
      ['"evt_1"', "string"],
      ["42", "number"],
    ];
    for (const [body, got] of shapes) {
      const res = await postEvent(t.app, body, { clock: t.clock });
      const problem = await assertRefused(res, 422, "validation_failed");
      assert.deepEqual(problem.errors, [
        { path: "body", message: `a JSON object (a Stripe event), not ${got}` },
      ], body);
    }
    // the event's own time, which the log shows and orders by, is whole seconds too
    for (const created of [1e20, "soon", 1.5e9 + 0.5]) {
      const event = { ...makeEvent("customer.created", customerObject()), created };
      const res = await postEvent(t.app, JSON.stringify(event), { clock: t.clock });
      const problem = await assertRefused(res, 422, "validation_failed");
      assert.deepEqual(problem.errors, [
        { path: "body.created", message: "whole seconds since the epoch" },
      ], String(created));
    }
    const bad = await postEvent(t.app, "{", { clock: t.clock });
    assert.deepEqual((await assertRefused(bad, 422, "validation_failed")).errors, [
      { path: "body", message: "not valid JSON" },
    ]);
    assert.deepEqual(await kvSnapshot(t.kv), before);
  });
});

Deno.test("with no webhook secret configured the intake answers 503 so Stripe retries", async () => {
  await withWebhookApp(async (t) => {
    const res = await postEvent(t.app, makeEvent("customer.created", customerObject()), {
      clock: t.clock,
    });
    await assertRefused(res, 503, "unavailable");
  }, {});
});

/** `n` characters of random base-36 text (does not deflate much). */
function randomText(n: number): string {
  let out = "";
  while (out.length < n) out += Math.random().toString(36).slice(2);
  return out.slice(0, n);
}

Deno.test("a signature timestamp up to 300 s either side of now is taken (clocks drift)", async () => {
  await withWebhookApp(async (t) => {
    for (const off of [-300, 300]) {
      const event = makeEvent("customer.created", customerObject());
      const timestamp = Math.floor(t.clock.now() / 1000) + off;
      const res = await postEvent(t.app, event, { timestamp });
      assert.equal(res.status, 200, await res.clone().text());
      assert.deepEqual(await res.json(), { received: true, event_id: event.id });
    }
  });
});
