import { captureAmount, settleCapture } from "./charges.ts";
import { confirm, CONFIRMABLE, refuseUnlessStatus } from "./confirm.ts";
import { type Ctx, nowSec, previousAttributes, type Route } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import { amountAndCurrency, mergeMetadata, optBool, optInt, optString } from "./form.ts";
import { newId, randomToken } from "./ids.ts";
import { resolvePaymentMethod } from "./payment_methods.ts";
import { clone, equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

// Stripe's default for new PaymentIntents since API version 2024-06-20 (cards settle
// synchronously either way).
const CAPTURE_METHODS = ["automatic", "automatic_async", "manual"];
const CANCEL_REASONS = ["duplicate", "fraudulent", "requested_by_customer", "abandoned"];

function oneOf(value: string | undefined, allowed: string[], param: string): string | undefined {
  if (value !== undefined && !allowed.includes(value)) {
    throw invalidRequest(`Invalid ${param}: must be one of ${allowed.join(", ")}`, { param });
  }
  return value;
}

function createPaymentIntent(ctx: Ctx): StripeObject {
  const { amount, currency } = amountAndCurrency(ctx.params);
  const customer = optString(ctx.params, "customer") ?? null;
  if (customer) getOr404(ctx.store, "customers", customer);
  const pmId = optString(ctx.params, "payment_method");
  const pm = pmId ? resolvePaymentMethod(ctx, pmId) : null;
  const captureMethod =
    oneOf(optString(ctx.params, "capture_method"), CAPTURE_METHODS, "capture_method") ??
      "automatic_async";
  const id = newId("pi");
  const pi: StripeObject = {
    id,
    object: "payment_intent",
    allowed_payment_method_types: null,
    amount,
    amount_capturable: 0,
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: captureMethod,
    client_secret: `${id}_secret_${randomToken(24)}`,
    confirmation_method: "automatic",
    created: nowSec(ctx),
    currency,
    customer,
    customer_account: null,
    description: optString(ctx.params, "description") ?? null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: mergeMetadata({}, ctx.params),
    next_action: null,
    on_behalf_of: null,
    payment_method: pm?.id ?? null,
    payment_method_configuration_details: null,
    payment_method_options: cardPaymentMethodOptions(),
    payment_method_types: ["card"],
    payment_record: null,
    processing: null,
    receipt_email: optString(ctx.params, "receipt_email") ?? null,
    review: null,
    setup_future_usage: optString(ctx.params, "setup_future_usage") ?? null,
    shipping: null,
    source: null,
    statement_descriptor: optString(ctx.params, "statement_descriptor") ?? null,
    statement_descriptor_suffix: null,
    status: pm ? "requires_confirmation" : "requires_payment_method",
    transfer_group: null,
  };
  put(ctx.store, "payment_intents", pi);
  ctx.bus.emit("payment_intent.created", pi, ctx.request);
  if (optBool(ctx.params, "confirm")) return confirm(ctx, pi);
  return pi;
}

function updatePaymentIntent(ctx: Ctx, [id]: string[]): StripeObject {
  const pi = getOr404(ctx.store, "payment_intents", id);
  const description = optString(ctx.params, "description");
  if (description !== undefined) pi.description = description || null;
  const email = optString(ctx.params, "receipt_email");
  if (email !== undefined) pi.receipt_email = email || null;
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

/** Captures an authorized PaymentIntent, all of it or `amount_to_capture` (the rest is released). */
function capture(ctx: Ctx, [id]: string[]): StripeObject {
  const pi = getOr404(ctx.store, "payment_intents", id);
  refuseUnlessStatus(pi, "capture", ["requires_capture"]);
  const amount = captureAmount(
    optInt(ctx.params, "amount_to_capture"),
    pi.amount_capturable,
    "amount_to_capture",
  );
  const charge = getOr404(ctx.store, "charges", pi.latest_charge);
  const before = clone(charge);
  settleCapture(ctx, charge, amount);
  delete charge.payment_method_details.card.capture_before;
  pi.metadata = mergeMetadata(pi.metadata, ctx.params);
  Object.assign(pi, { status: "succeeded", amount_capturable: 0, amount_received: amount });
  ctx.bus.emit("charge.captured", charge, ctx.request, previousAttributes(before, charge));
  ctx.bus.emit("payment_intent.succeeded", pi, ctx.request);
  return pi;
}

/** Releases an uncaptured authorization: Stripe shows it refunded in full on the charge. */
/** The card options Stripe shows on a PaymentIntent that names none. */
export function cardPaymentMethodOptions() {
  return {
    card: {
      installments: null,
      mandate_options: null,
      network: null,
      request_three_d_secure: "automatic",
    },
  };
}

export function releaseAuthorization(charge: StripeObject): StripeObject {
  const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
  Object.assign(charge, { amount_refunded: charge.amount, refunded: true });
  delete charge.payment_method_details.card.capture_before;
  return previous;
}

function cancel(ctx: Ctx, [id]: string[]): StripeObject {
  const pi = getOr404(ctx.store, "payment_intents", id);
  refuseUnlessStatus(pi, "cancel", [...CONFIRMABLE, "requires_capture"]);
  const reason = oneOf(
    optString(ctx.params, "cancellation_reason"),
    CANCEL_REASONS,
    "cancellation_reason",
  );
  const uncaptured = pi.status === "requires_capture";
  Object.assign(pi, {
    status: "canceled",
    canceled_at: nowSec(ctx),
    cancellation_reason: reason ?? null,
    amount_capturable: 0,
    next_action: null,
  });
  if (uncaptured) {
    const charge = getOr404(ctx.store, "charges", pi.latest_charge);
    const previous = releaseAuthorization(charge);
    ctx.bus.emit("charge.refunded", charge, ctx.request, previous);
  }
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
  { method: "POST", pattern: /^\/v1\/payment_intents\/([^/]+)\/capture$/, handler: capture },
  { method: "POST", pattern: /^\/v1\/payment_intents\/([^/]+)\/cancel$/, handler: cancel },
];
