import assert from "node:assert/strict";
import Stripe from "stripe";
import { AppError } from "../core/errors.ts";
import { stripeOutcome } from "../services/stripe/gateway.ts";
import { withGateway } from "./helpers/stripe_gateway.ts";

async function appError(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => null, (e) => e);
  assert.ok(err instanceof AppError, `expected an AppError, got ${err}`);
  return err;
}

function paidIntent(stripe: Stripe) {
  return stripe.paymentIntents.create({
    amount: 2000,
    currency: "usd",
    payment_method: "pm_card_visa",
    confirm: true,
  });
}

Deno.test("stripeGateway.call() runs the SDK against the configured API with the demo key", async () => {
  await withGateway(async ({ gateway, emu }) => {
    const pi = await gateway.call((s) => paidIntent(s));
    assert.equal(pi.status, "succeeded");
    assert.match(pi.lastResponse.requestId, /^req_/);
    assert.equal(emu.requests.total(), 1);
  });
});

Deno.test("stripeGateway.call() maps a card decline to stripe_error with decline and advice codes", async () => {
  await withGateway(async ({ gateway, emu, sleeps }) => {
    const err = await appError(gateway.call((s) =>
      s.paymentIntents.create({
        amount: 1200,
        currency: "eur",
        payment_method: "pm_card_chargeDeclinedInsufficientFunds",
        confirm: true,
      }, { idempotencyKey: "decline-1" })
    ));
    assert.equal(err.code, "stripe_error");
    assert.equal(err.status, 502);
    const stripe = err.extra?.stripe as Record<string, unknown>;
    assert.equal(stripe.type, "card_error");
    assert.equal(stripe.code, "card_declined");
    assert.equal(stripe.decline_code, "insufficient_funds");
    assert.equal(stripe.advice_code, "try_again_later");
    assert.equal(stripe.http_status, 402);
    assert.match(String(stripe.request_id), /^req_/);
    assert.equal(typeof stripe.message, "string");
    assert.equal(stripeOutcome(err), "definite");
    assert.ok(err.cause instanceof Stripe.errors.StripeCardError);
    assert.equal(emu.requests.total(), 1, "a decline is not retried");
    assert.deepEqual(sleeps, []);
  });
});

Deno.test("stripeGateway.call() maps a missing object to stripe_error naming the param", async () => {
  await withGateway(async ({ gateway }) => {
    const err = await appError(gateway.call((s) => s.refunds.retrieve("re_missing")));
    assert.equal(err.code, "stripe_error");
    const stripe = err.extra?.stripe as Record<string, unknown>;
    assert.equal(stripe.type, "invalid_request_error");
    assert.equal(stripe.code, "resource_missing");
    assert.equal(stripe.http_status, 404);
    assert.equal(stripe.param, "id");
    assert.equal(stripe.decline_code, null);
  });
});

Deno.test("stripeGateway.call() maps a 500 to stripe_unavailable with an unknown outcome, without retrying", async () => {
  await withGateway(async ({ gateway, emu }) => {
    emu.faults.inject({ kind: "server_error", method: "POST", path: "/v1/customers" });
    const err = await appError(
      gateway.call((s) =>
        s.customers.create({ email: "a@example.com" }, { idempotencyKey: "cus-1" })
      ),
    );
    assert.equal(err.code, "stripe_unavailable");
    assert.equal(err.status, 503);
    assert.equal(stripeOutcome(err), "unknown");
    assert.equal((err.extra?.stripe as Record<string, unknown>).http_status, 500);
    assert.equal(emu.requests.total(), 1);
  });
});

Deno.test("stripeGateway.call() retries a rate-limited keyed POST and succeeds", async () => {
  await withGateway(async ({ gateway, emu, sleeps }) => {
    const pi = await gateway.call((s) => paidIntent(s));
    emu.requests.reset();
    emu.faults.inject({ kind: "rate_limit", method: "POST", path: "/v1/refunds" });
    const refund = await gateway.call((s) =>
      s.refunds.create({ payment_intent: pi.id, amount: 500 }, { idempotencyKey: "rfd_1" })
    );
    assert.equal(refund.status, "succeeded");
    assert.equal(emu.requests.total(), 2);
    // full jitter with random() = 0.5 on the first 250 ms ceiling
    assert.deepEqual(sleeps, [125]);
  });
});

Deno.test("stripeGateway.call() retries lock_timeout twice with growing backoff, then succeeds", async () => {
  await withGateway(async ({ gateway, emu, sleeps }) => {
    const pi = await gateway.call((s) => paidIntent(s));
    emu.requests.reset();
    emu.faults.inject({ kind: "lock_timeout", method: "POST", path: "/v1/refunds", times: 2 });
    const refund = await gateway.call((s) =>
      s.refunds.create({ payment_intent: pi.id }, { idempotencyKey: "rfd_2" })
    );
    assert.equal(refund.amount, 2000);
    assert.equal(emu.requests.total(), 3);
    assert.deepEqual(sleeps, [125, 250]);
  });
});

Deno.test("stripeGateway.call() gives up after three rate-limited tries with stripe_unavailable and Retry-After", async () => {
  await withGateway(async ({ gateway, emu }) => {
    emu.faults.inject({ kind: "rate_limit", method: "GET", times: 5 });
    const err = await appError(gateway.call((s) => s.customers.list({ limit: 1 })));
    assert.equal(err.code, "stripe_unavailable");
    assert.equal(err.retryAfter, 1);
    assert.match(err.message, /after 3 attempts/);
    assert.equal(stripeOutcome(err), "definite", "a 429 means Stripe did nothing");
    assert.equal(emu.requests.total(), 3);
  });
});

Deno.test("stripeGateway.call() does not repeat a POST that carries only the SDK's own key", async () => {
  await withGateway(async ({ gateway, emu, sleeps }) => {
    emu.faults.inject({ kind: "rate_limit", method: "POST", path: "/v1/customers" });
    const err = await appError(gateway.call((s) => s.customers.create({ email: "b@example.com" })));
    assert.equal(err.code, "stripe_unavailable");
    assert.equal(err.retryAfter, 1);
    assert.equal(emu.requests.total(), 1);
    assert.deepEqual(sleeps, []);
  });
});

Deno.test("stripeGateway.call(): act_then_drop is stripe_unavailable/unknown, and the same key returns the same refund", async () => {
  await withGateway(async ({ gateway, emu }) => {
    const pi = await gateway.call((s) => paidIntent(s));
    emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
    const params = { payment_intent: pi.id, amount: 700, metadata: { refund_id: "rfd_drop" } };
    const refund = (s: Stripe) => s.refunds.create(params, { idempotencyKey: "rfd_drop" });
    const err = await appError(gateway.call(refund));
    assert.equal(err.code, "stripe_unavailable");
    assert.equal(stripeOutcome(err), "unknown");
    assert.ok(err.cause instanceof Stripe.errors.StripeConnectionError);
    const again = await gateway.call(refund);
    const listed = await gateway.call((s) => s.refunds.list({ payment_intent: pi.id }));
    assert.equal(listed.data.length, 1, "money moved once");
    assert.equal(again.id, listed.data[0].id);
    assert.equal(again.amount, 700);
  });
});

Deno.test("stripeGateway.call() turns a timeout into stripe_unavailable/unknown", async () => {
  await withGateway(async ({ gateway, emu }) => {
    emu.faults.inject({ kind: "latency", ms: 400, method: "GET" });
    const err = await appError(gateway.call((s) => s.customers.list()));
    assert.equal(err.code, "stripe_unavailable");
    assert.equal(stripeOutcome(err), "unknown");
    assert.match(err.message, /within 100 ms/);
  }, { timeoutMs: 100 });
});

Deno.test("stripeGateway.call() reports a refused connection as stripe_unavailable/unknown", async () => {
  // port 1 (tcpmux) has no listener here; a port freed just before could be handed at once to
  // the emulator withGateway starts, and the call would succeed
  const port = 1;
  await withGateway(async ({ gateway }) => {
    const err = await appError(gateway.call((s) => s.customers.list()));
    assert.equal(err.code, "stripe_unavailable");
    assert.equal(stripeOutcome(err), "unknown");
    assert.match(err.message, /connection to Stripe failed/);
  }, { env: { STRIPE_API_URL: `http://127.0.0.1:${port}` } });
});

Deno.test("stripeGateway.call() passes the callback's own errors through untouched and untried again", async () => {
  await withGateway(async ({ gateway, emu }) => {
    const mine = new AppError("not_found", "refund rfd_x does not exist");
    const err = await gateway.call(async (s) => {
      await s.customers.list();
      throw mine;
    }).catch((e) => e);
    assert.equal(err, mine);
    assert.equal(emu.requests.total(), 1);
  });
});

Deno.test("stripeGateway.call() pays one token per HTTP request, however many the callback makes", async () => {
  await withGateway(async ({ gateway }) => {
    assert.equal((await gateway.bucket.peek()).tokens, 5);
    await gateway.call(async (s) => {
      await s.customers.create({ email: "c@example.com" });
      await s.customers.list();
    });
    assert.equal((await gateway.bucket.peek()).tokens, 3);
  }, { burst: 5 });
});

Deno.test("stripeGateway.call(): background calls wait at the reserve while interactive ones go through", async () => {
  await withGateway(async ({ gateway, emu, sleeps }) => {
    // burst 4 keeps a reserve of 1: three background calls fit, the fourth must wait
    // (each on an endpoint of its own, so only the shared budget is measured here)
    await gateway.call((s) => s.customers.list(), { priority: "background" });
    await gateway.call((s) => s.charges.list(), { priority: "background" });
    await gateway.call((s) => s.paymentIntents.list(), { priority: "background" });
    assert.deepEqual(sleeps, []);
    await gateway.call((s) => s.customers.list(), { priority: "interactive" });
    assert.deepEqual(sleeps, [], "the last token was kept for the admin");
    await gateway.call((s) => s.refunds.list(), { priority: "background" });
    // 2 tokens missing at 50/s = 40 ms, plus jitter (0.5 × 20 ms)
    assert.deepEqual(sleeps, [50]);
    assert.equal(emu.requests.total(), 5);
  }, { burst: 4 });
});

Deno.test("stripeGateway logs each call without the secret key", async () => {
  await withGateway(async ({ gateway, logs, emu }) => {
    await gateway.call((s) => s.customers.create({ email: "d@example.com" }), {
      label: "customers.create",
    });
    emu.faults.inject({ kind: "server_error", method: "GET" });
    await gateway.call((s) => s.customers.list()).catch(() => {});
    assert.equal(logs.length, 2);
    const ok = JSON.parse(logs[0]);
    assert.equal(ok.msg, "stripe call");
    assert.equal(ok.label, "customers.create");
    assert.equal(ok.method, "POST");
    assert.equal(ok.path, "/v1/customers");
    assert.equal(ok.status, 200);
    assert.match(ok.stripe_request_id, /^req_/);
    assert.equal(typeof ok.ms, "number");
    assert.equal(ok.idempotency_key, null, "the SDK's own key is not worth logging");
    const failed = JSON.parse(logs[1]);
    assert.equal(failed.level, "warn");
    assert.equal(failed.status, 500);
    assert.equal(failed.error.type, "api_error");
    assert.ok(!logs.join("\n").includes("sk_test_gatewaysecret"));
  }, { env: { STRIPE_SECRET_KEY: "sk_test_gatewaysecret123" } });
});

Deno.test("stripeGateway logs an id Stripe does not know at info, not as an outage; a 400 stays a warning", async () => {
  // README, "Stripe outages": `stripe call failed` (warn) is Stripe's trouble, or a request this
  // service should not have sent (400); a mistyped id (404 resource_missing) is neither
  await withGateway(async ({ gateway, logs, emu }) => {
    await gateway.call((s) => s.disputes.retrieve("du_nope"), { label: "disputes.retrieve" })
      .catch(() => {});
    await gateway.call((s) =>
      s.paymentIntents.create({ currency: "usd" } as Stripe.PaymentIntentCreateParams)
    ).catch(() => {});
    emu.faults.inject({ kind: "server_error", method: "GET" });
    await gateway.call((s) => s.customers.list()).catch(() => {});
    const lines = logs.map((l) => JSON.parse(l));
    assert.equal(lines.length, 3, logs.join("\n"));
    const [missing, malformed, outage] = lines;
    assert.equal(missing.level, "info");
    assert.equal(missing.msg, "stripe refused the request");
    assert.equal(missing.label, "disputes.retrieve");
    assert.equal(missing.status, 404);
    assert.equal(missing.error.code, "resource_missing");
    assert.match(missing.stripe_request_id, /^req_/);
    assert.equal(malformed.level, "warn");
    assert.equal(malformed.msg, "stripe call failed");
    assert.equal(malformed.status, 400);
    assert.equal(malformed.error.type, "invalid_request_error");
    assert.equal(malformed.error.code, "parameter_missing");
    // Stripe's own trouble is still the line operators watch during an outage
    assert.equal(outage.level, "warn");
    assert.equal(outage.msg, "stripe call failed");
    assert.equal(outage.status, 500);
  });
});

Deno.test("stripeGateway.call() sends nothing when the budget cannot be read, and says Stripe did nothing", async () => {
  await withGateway(async ({ gateway, emu, kv }) => {
    kv.close();
    const err = await gateway.call((s) => s.customers.list()).catch((e) => e);
    assert.ok(!(err instanceof Stripe.errors.StripeError), `got ${err}`);
    assert.equal(stripeOutcome(err), "definite");
    assert.equal(emu.requests.total(), 0);
  });
});
