import { behaviorOf } from "./cards.ts";
import {
  amountAndCurrency,
  cardErrorBody,
  chargeCard,
  newClientSecret,
  scheduleAftermath,
} from "./charges.ts";
import { type Ctx, nowSec, type Route } from "./context.ts";
import { ApiError, invalidRequest } from "./errors.ts";
import { mergeMetadata, optBool, optString } from "./form.ts";
import { newId, randomToken } from "./ids.ts";
import { resolvePaymentMethod } from "./payment_methods.ts";
import { clone, equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

const CONFIRMABLE = new Set([
  "requires_payment_method",
  "requires_confirmation",
  "requires_action",
]);

function createPaymentIntent(ctx: Ctx): StripeObject {
  const { amount, currency } = amountAndCurrency(ctx);
  const customer = optString(ctx.params, "customer") ?? null;
  if (customer) getOr404(ctx.store, "customers", customer);
  const pmId = optString(ctx.params, "payment_method");
  const pm = pmId ? resolvePaymentMethod(ctx, pmId) : null;
  const id = newId("pi");
  const pi: StripeObject = {
    id,
    object: "payment_intent",
    amount,
    amount_capturable: 0,
    amount_received: 0,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic",
    client_secret: newClientSecret(id),
    confirmation_method: "automatic",
    created: nowSec(ctx),
    currency,
    customer,
    description: optString(ctx.params, "description") ?? null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    metadata: mergeMetadata({}, ctx.params),
    next_action: null,
    payment_method: pm?.id ?? null,
    payment_method_types: ["card"],
    receipt_email: optString(ctx.params, "receipt_email") ?? null,
    setup_future_usage: null,
    statement_descriptor: null,
    status: pm ? "requires_confirmation" : "requires_payment_method",
  };
  put(ctx.store, "payment_intents", pi);
  ctx.bus.emit("payment_intent.created", pi, ctx.request);
  if (optBool(ctx.params, "confirm")) return confirm(ctx, pi);
  return pi;
}

function confirm(ctx: Ctx, pi: StripeObject): StripeObject {
  if (!CONFIRMABLE.has(pi.status)) {
    throw invalidRequest(
      `You cannot confirm this PaymentIntent because it has a status of ${pi.status}.`,
      { code: "payment_intent_unexpected_state" },
    );
  }
  const pmId = optString(ctx.params, "payment_method") ?? pi.payment_method;
  if (!pmId) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method. " +
        "Update it with a payment_method or pass one to confirm.",
      { code: "payment_intent_unexpected_state", param: "payment_method" },
    );
  }
  const pm = resolvePaymentMethod(ctx, pmId);
  const offSession = optBool(ctx.params, "off_session") ?? false;
  if (behaviorOf(pm.card.fingerprint).kind === "auth_required" && !offSession) {
    return requireAction(ctx, pi, pm);
  }
  const result = chargeCard(ctx, {
    amount: pi.amount,
    currency: pi.currency,
    customer: pi.customer,
    paymentIntent: pi.id,
    paymentMethodId: pm.id,
    card: pm.card,
    billingDetails: clone(pm.billing_details),
    description: pi.description,
    metadata: clone(pi.metadata),
  }, offSession);
  const { charge, decline } = result;
  pi.latest_charge = charge.id;
  pi.next_action = null;
  if (decline) {
    // Stripe clears the PI's payment method after a decline and keeps it on the error.
    const error = { ...cardErrorBody(decline), charge: charge.id, payment_method: clone(pm) };
    Object.assign(pi, { status: "requires_payment_method", payment_method: null });
    pi.last_payment_error = error;
    ctx.bus.emit("charge.failed", charge, ctx.request);
    ctx.bus.emit("payment_intent.payment_failed", pi, ctx.request);
    throw new ApiError(402, { ...error, payment_intent: clone(pi) });
  }
  Object.assign(pi, {
    status: "succeeded",
    amount_received: pi.amount,
    payment_method: pm.id,
    last_payment_error: null,
  });
  ctx.bus.emit("charge.succeeded", charge, ctx.request);
  ctx.bus.emit("payment_intent.succeeded", pi, ctx.request);
  scheduleAftermath(ctx, result);
  return pi;
}

function requireAction(ctx: Ctx, pi: StripeObject, pm: StripeObject): StripeObject {
  Object.assign(pi, {
    status: "requires_action",
    payment_method: pm.id,
    next_action: {
      type: "use_stripe_sdk",
      use_stripe_sdk: {
        type: "three_d_secure_redirect",
        stripe_js: `https://hooks.stripe.com/redirect/authenticate/src_${randomToken(24)}`,
        source: `src_${randomToken(24)}`,
      },
    },
  });
  ctx.bus.emit("payment_intent.requires_action", pi, ctx.request);
  return pi;
}

function updatePaymentIntent(ctx: Ctx, [id]: string[]): StripeObject {
  const pi = getOr404(ctx.store, "payment_intents", id);
  const description = optString(ctx.params, "description");
  if (description !== undefined) pi.description = description || null;
  pi.metadata = mergeMetadata(pi.metadata, ctx.params);
  const pmId = optString(ctx.params, "payment_method");
  if (pmId) {
    if (!CONFIRMABLE.has(pi.status)) {
      throw invalidRequest(`This PaymentIntent's status is ${pi.status}.`, {
        code: "payment_intent_unexpected_state",
      });
    }
    pi.payment_method = resolvePaymentMethod(ctx, pmId).id;
    pi.status = "requires_confirmation";
  }
  return pi;
}

function cancel(ctx: Ctx, [id]: string[]): StripeObject {
  const pi = getOr404(ctx.store, "payment_intents", id);
  if (!CONFIRMABLE.has(pi.status) && pi.status !== "requires_capture") {
    throw invalidRequest(
      `You cannot cancel this PaymentIntent because it has a status of ${pi.status}.`,
      { code: "payment_intent_unexpected_state" },
    );
  }
  Object.assign(pi, {
    status: "canceled",
    canceled_at: nowSec(ctx),
    cancellation_reason: optString(ctx.params, "cancellation_reason") ?? null,
    next_action: null,
  });
  ctx.bus.emit("payment_intent.canceled", pi, ctx.request);
  return pi;
}

export const paymentIntentRoutes: Route[] = [
  { method: "POST", pattern: /^\/v1\/payment_intents$/, handler: createPaymentIntent },
  {
    method: "GET",
    pattern: /^\/v1\/payment_intents$/,
    handler: (ctx) =>
      listObjects(
        ctx.store.objects.payment_intents.values(),
        ctx.params,
        "/v1/payment_intents",
        equalsParam(ctx.params, "customer"),
      ),
  },
  {
    method: "GET",
    pattern: /^\/v1\/payment_intents\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "payment_intents", id),
  },
  { method: "POST", pattern: /^\/v1\/payment_intents\/([^/]+)$/, handler: updatePaymentIntent },
  {
    method: "POST",
    pattern: /^\/v1\/payment_intents\/([^/]+)\/confirm$/,
    handler: (ctx, [id]) => confirm(ctx, getOr404(ctx.store, "payment_intents", id)),
  },
  { method: "POST", pattern: /^\/v1\/payment_intents\/([^/]+)\/cancel$/, handler: cancel },
];
