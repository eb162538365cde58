import { behaviorOf } from "./cards.ts";
import { afterCharge, chargeCard } from "./charges.ts";
import type { Ctx } from "./context.ts";
import { ApiError, invalidRequest } from "./errors.ts";
import { optBool, optString } from "./form.ts";
import { randomToken } from "./ids.ts";
import { cardErrorBody } from "./outcomes.ts";
import { resolvePaymentMethod } from "./payment_methods.ts";
import { clone, getOr404, type StripeObject } from "./store.ts";

export const CONFIRMABLE = new Set([
  "requires_payment_method",
  "requires_confirmation",
  "requires_action",
]);

const DONE: Record<string, string> = {
  confirm: "confirmed",
  capture: "captured",
  cancel: "canceled",
  authenticate: "authenticated",
};

function unexpectedState(pi: StripeObject, action: string, allowed: string[]): ApiError {
  return invalidRequest(
    `You cannot ${action} this PaymentIntent because it has a status of ${pi.status}. ` +
      `Only a PaymentIntent with one of the following statuses may be ${DONE[action]}: ` +
      `${allowed.join(", ")}.`,
    { code: "payment_intent_unexpected_state" },
  );
}

export function refuseUnlessStatus(pi: StripeObject, action: string, allowed: string[]): void {
  if (!allowed.includes(pi.status)) throw unexpectedState(pi, action, allowed);
}

/** Stripe refuses a customer's saved card on a PaymentIntent of nobody or somebody else. */
function checkOwner(pi: StripeObject, pm: StripeObject): void {
  if (!pm.customer || pm.customer === pi.customer) return;
  throw invalidRequest(
    pi.customer
      ? `The provided PaymentMethod belongs to a different Customer (${pm.customer}) than ` +
        `the one on this PaymentIntent (${pi.customer}).`
      : "The provided PaymentMethod is attached to a Customer. Pass that Customer's ID in " +
        "`customer` to use it.",
    { param: "payment_method" },
  );
}

/** `POST /v1/payment_intents/{id}/confirm` (and `confirm=true` on create). */
export function confirm(ctx: Ctx, pi: StripeObject): StripeObject {
  refuseUnlessStatus(pi, "confirm", [...CONFIRMABLE]);
  const pmId = optString(ctx.params, "payment_method") ?? pi.payment_method;
  if (!pmId) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method. " +
        "Update it with a payment_method or pass one to confirm.",
      { code: "payment_intent_unexpected_state", param: "payment_method" },
    );
  }
  const pm = resolvePaymentMethod(ctx, pmId);
  checkOwner(pi, pm);
  const sfu = optString(ctx.params, "setup_future_usage");
  if (sfu !== undefined) pi.setup_future_usage = sfu || null;
  const offSession = optBool(ctx.params, "off_session") ?? false;
  const behavior = behaviorOf(pm.card.fingerprint);
  let authenticated = true;
  if (behavior.kind === "auth_required") {
    authenticated = behavior.when === "on_setup" && ctx.store.setUp.has(pm.id);
    // On session the customer is there to do 3D Secure; off session the issuer declines.
    if (!authenticated && !offSession) return requireAction(ctx, pi, pm);
  }
  return charge(ctx, pi, pm, authenticated);
}

/** Charges the PaymentIntent's card; a decline is a 402 carrying the PaymentIntent. */
function charge(ctx: Ctx, pi: StripeObject, pm: StripeObject, authenticated: boolean) {
  const manual = pi.capture_method === "manual";
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
    receiptEmail: pi.receipt_email,
    capture: !manual,
    authenticated,
    offSession: optBool(ctx.params, "off_session") ?? false,
  });
  const { charge, decline } = result;
  pi.latest_charge = charge.id;
  pi.next_action = null;
  if (decline) {
    // Stripe clears the PI's payment method after a decline and keeps it on the error.
    const error = {
      ...cardErrorBody(decline),
      charge: charge.id,
      payment_method: clone(pm),
      payment_method_type: "card",
    };
    Object.assign(pi, {
      status: "requires_payment_method",
      payment_method: null,
      last_payment_error: error,
    });
    ctx.bus.emit("charge.failed", charge, ctx.request);
    ctx.bus.emit("payment_intent.payment_failed", pi, ctx.request);
    throw new ApiError(402, { ...error, payment_intent: clone(pi) });
  }
  Object.assign(pi, { payment_method: pm.id, last_payment_error: null });
  if (manual) Object.assign(pi, { status: "requires_capture", amount_capturable: pi.amount });
  else Object.assign(pi, { status: "succeeded", amount_received: pi.amount });
  if (pi.setup_future_usage && pi.customer) saveForLater(ctx, pi, pm);
  ctx.bus.emit("charge.succeeded", charge, ctx.request);
  ctx.bus.emit(
    manual ? "payment_intent.amount_capturable_updated" : "payment_intent.succeeded",
    pi,
    ctx.request,
  );
  afterCharge(ctx, result);
  return pi;
}

/** `setup_future_usage` attaches the card to the customer and exempts later off-session use. */
function saveForLater(ctx: Ctx, pi: StripeObject, pm: StripeObject): void {
  ctx.store.setUp.add(pm.id);
  if (pm.customer) return;
  pm.customer = pi.customer;
  ctx.bus.emit("payment_method.attached", pm, ctx.request);
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

/**
 * Test control: the customer completes (or fails) the 3D Secure challenge of a PaymentIntent
 * in `requires_action`, as the Stripe.js modal would in test mode.
 */
export function authenticate(ctx: Ctx, id: string, succeed: boolean): StripeObject {
  const pi = getOr404(ctx.store, "payment_intents", id);
  refuseUnlessStatus(pi, "authenticate", ["requires_action"]);
  const pm = getOr404(ctx.store, "payment_methods", pi.payment_method);
  if (succeed) {
    if (pi.setup_future_usage) ctx.store.setUp.add(pm.id);
    try {
      return charge(ctx, pi, pm, true);
    } catch (e) {
      if (e instanceof ApiError && e.status === 402) return pi;
      throw e;
    }
  }
  Object.assign(pi, {
    status: "requires_payment_method",
    payment_method: null,
    next_action: null,
    last_payment_error: {
      type: "invalid_request_error",
      code: "payment_intent_authentication_failure",
      doc_url: "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
      message: "The provided PaymentMethod has failed authentication. You can provide " +
        "payment_method_data or a new PaymentMethod to attempt to fulfill this " +
        "PaymentIntent again.",
      payment_method: clone(pm),
      payment_method_type: "card",
    },
  });
  ctx.bus.emit("payment_intent.payment_failed", pi, ctx.request);
  return pi;
}
