import assert from "node:assert/strict";
import Stripe from "stripe";
import { AppError } from "../core/errors.ts";
import {
  isRetryableStripeError,
  markNotSent,
  stripeErrorToAppError,
  stripeOutcome,
  stripeRetryAfterS,
} from "../services/stripe/errors.ts";
import { withGateway } from "./helpers/stripe_gateway.ts";
import type { FaultHandle } from "../emulator/faults.ts";

// Stripe's answers as the SDK turns them into errors (the same raw shape its response handler builds).
const rateLimited = (headers: Record<string, string> = {}) =>
  Stripe.errors.StripeError.generate({
    type: "invalid_request_error",
    code: "rate_limit",
    message: "Request rate limit exceeded.",
    statusCode: 429,
    headers,
    requestId: "req_rl",
  });

Deno.test("stripeRetryAfterS() reads Stripe's Retry-After in seconds or as a date", () => {
  assert.equal(stripeRetryAfterS(rateLimited({ "retry-after": "2" })), 2);
  assert.equal(stripeRetryAfterS(rateLimited()), undefined);
  const inFiveSeconds = new Date(Date.now() + 5_000).toUTCString();
  const s = stripeRetryAfterS(rateLimited({ "retry-after": inFiveSeconds }))!;
  assert.ok(s > 3 && s <= 5, `${s}`);
});

Deno.test("stripeErrorToAppError() carries Retry-After into the 503 of an exhausted rate limit", () => {
  const err = stripeErrorToAppError(rateLimited({ "retry-after": "3" }), { attempts: 3 });
  assert.equal(err.code, "stripe_unavailable");
  assert.equal(err.retryAfter, 3);
  assert.match(err.message, /after 3 attempts/);
  assert.deepEqual(err.extra?.stripe, {
    type: "invalid_request_error",
    code: "rate_limit",
    decline_code: null,
    advice_code: null,
    param: null,
    message: "Request rate limit exceeded.",
    request_id: "req_rl",
    http_status: 429,
  });
});

Deno.test("isRetryableStripeError() follows stripe-should-retry: false", () => {
  assert.equal(isRetryableStripeError(rateLimited()), true);
  assert.equal(isRetryableStripeError(rateLimited({ "stripe-should-retry": "false" })), false);
});

Deno.test("stripeOutcome() is unknown for anything that may have acted, definite for refusals", () => {
  const inFlight = Stripe.errors.StripeError.generate({
    type: "idempotency_error",
    message: "There is currently another in-progress request using this Idempotent Key",
    statusCode: 409,
  });
  assert.equal(stripeOutcome(inFlight), "unknown");
  assert.equal(stripeOutcome(new Stripe.errors.StripeConnectionError({ message: "x" })), "unknown");
  assert.equal(stripeOutcome(rateLimited()), "definite");
  assert.equal(stripeOutcome(new AppError("stripe_error", "refused")), "definite");
  assert.equal(stripeOutcome(new AppError("stripe_unavailable", "down")), "unknown");
  assert.equal(stripeOutcome(new Error("who knows")), "unknown");
  assert.equal(stripeOutcome(markNotSent(new Error("KV unreachable"))), "definite");
  const mapped = stripeErrorToAppError(inFlight);
  assert.equal(mapped.code, "stripe_unavailable");
  assert.equal(stripeOutcome(mapped), "unknown");
  // a 503 says when to come back, whatever Stripe said
  assert.equal(mapped.retryAfter, 2);
  const dropped = stripeErrorToAppError(new Stripe.errors.StripeConnectionError({ message: "x" }));
  assert.equal(dropped.retryAfter, 2);
  assert.match(dropped.message, /may or may not have acted on it. Try again shortly/);
});

Deno.test("stripeErrorToAppError() masks a key Stripe echoes in its message", () => {
  const err = stripeErrorToAppError(
    Stripe.errors.StripeError.generate({
      type: "invalid_request_error",
      message: "Invalid API Key provided: sk_test_abcdefghijkl",
      statusCode: 401,
    }),
  );
  assert.equal(err.code, "stripe_error");
  assert.equal(
    (err.extra?.stripe as { message: string }).message,
    "Invalid API Key provided: sk_test_****",
  );
});

Deno.test("stripeGateway.call() waits out a concurrent request on the same key (409) and gets its answer", async () => {
  // The first request is held at Stripe until the gateway backs off after the 409 (the second
  // reaches Stripe while the first is in flight); the back-off lasts until the first has its answer.
  let held: FaultHandle | null = null;
  let firstAnswered: Promise<unknown> = Promise.resolve();
  await withGateway(async ({ gateway, emu }) => {
    const pi = await gateway.call((s) =>
      s.paymentIntents.create({
        amount: 900,
        currency: "usd",
        payment_method: "pm_card_visa",
        confirm: true,
      })
    );
    emu.requests.reset();
    const hold = emu.faults.inject({
      kind: "latency",
      ms: Infinity,
      method: "POST",
      path: "/v1/refunds",
    });
    held = hold;
    const refund = (s: Stripe) =>
      s.refunds.create({ payment_intent: pi.id }, { idempotencyKey: "rfd_twice" });
    const first = gateway.call(refund);
    firstAnswered = first.catch(() => {});
    while (hold.remaining() > 0) await new Promise((r) => setTimeout(r, 1)); // the first is at Stripe
    const second = await gateway.call(refund);
    assert.equal(second.id, (await first).id);
    assert.equal(emu.requests.total(), 3, "first, refused duplicate, replay");
  }, { sleep: () => held!.release().then(() => firstAnswered).then(() => {}) });
});
