import { cardDetails, magicCardNumber } from "./cards.ts";
import { afterCharge, captureAmount, chargeCard, settleCapture } from "./charges.ts";
import { type Ctx, previousAttributes, type Route } from "./context.ts";
import { ApiError, invalidRequest } from "./errors.ts";
import { amountAndCurrency, mergeMetadata, optBool, optInt, optString, reqString } from "./form.ts";
import { newId } from "./ids.ts";
import { cardErrorBody } from "./outcomes.ts";
import { clone, equalsParam, getOr404, listObjects, type StripeObject } from "./store.ts";

/** The legacy `source` of a Charges-API charge: a Card object (Stripe.Card). */
function legacyCard(id: string, card: StripeObject, customer: string | null): StripeObject {
  return {
    id,
    object: "card",
    address_city: null,
    address_country: null,
    address_line1: null,
    address_line1_check: null,
    address_line2: null,
    address_state: null,
    address_zip: null,
    address_zip_check: null,
    brand: card.brand,
    country: card.country,
    customer,
    cvc_check: card.checks.cvc_check,
    dynamic_last4: null,
    exp_month: card.exp_month,
    exp_year: card.exp_year,
    fingerprint: card.fingerprint,
    funding: card.funding,
    last4: card.last4,
    metadata: {},
    name: null,
    regulated_status: "unregulated",
    tokenization_method: null,
  };
}

// Legacy Charges API (`source=tok_visa`) for integrations that never adopted PaymentIntents.
function createCharge(ctx: Ctx): StripeObject {
  const { amount, currency } = amountAndCurrency(ctx.params);
  const source = reqString(ctx.params, "source");
  const number = magicCardNumber(source);
  if (!number || !source.startsWith("tok_")) {
    throw invalidRequest(`No such token: '${source}'`, {
      code: "resource_missing",
      param: "source",
    });
  }
  const customer = optString(ctx.params, "customer") ?? null;
  if (customer) getOr404(ctx.store, "customers", customer);
  const card = cardDetails(number, 12, new Date(ctx.now()).getUTCFullYear() + 1);
  const cardId = newId("card");
  const result = chargeCard(ctx, {
    amount,
    currency,
    customer,
    paymentIntent: null,
    paymentMethodId: cardId,
    card,
    billingDetails: {
      address: null,
      email: null,
      name: null,
      phone: null,
      tax_id: null,
    },
    description: optString(ctx.params, "description") ?? null,
    metadata: mergeMetadata({}, ctx.params),
    receiptEmail: optString(ctx.params, "receipt_email") ?? null,
    capture: optBool(ctx.params, "capture") ?? true,
    // Legacy charges never had a 3D Secure step: an SCA card simply declines.
    authenticated: false,
  });
  const { charge, decline } = result;
  charge.source = legacyCard(cardId, card, customer);
  ctx.bus.emit(decline ? "charge.failed" : "charge.succeeded", charge, ctx.request);
  if (decline) throw new ApiError(402, { ...cardErrorBody(decline), charge: charge.id });
  afterCharge(ctx, result);
  return charge;
}

function captureCharge(ctx: Ctx, [id]: string[]): StripeObject {
  const charge = getOr404(ctx.store, "charges", id);
  if (charge.payment_intent) {
    throw invalidRequest(
      `This charge belongs to PaymentIntent ${charge.payment_intent}; capture the ` +
        "PaymentIntent instead.",
      { code: "charge_not_capturable" },
    );
  }
  if (charge.captured || charge.status !== "succeeded" || charge.refunded) {
    throw invalidRequest(`Charge ${id} has already been captured.`, {
      code: "charge_already_captured",
    });
  }
  const before = clone(charge);
  settleCapture(ctx, charge, captureAmount(optInt(ctx.params, "amount"), charge.amount, "amount"));
  ctx.bus.emit("charge.captured", charge, ctx.request, previousAttributes(before, charge));
  return charge;
}

export const chargeRoutes: Route[] = [
  { method: "POST", pattern: /^\/v1\/charges$/, handler: createCharge },
  {
    method: "GET",
    pattern: /^\/v1\/charges$/,
    handler: (ctx) =>
      listObjects(ctx.store.objects.charges.values(), ctx.params, "/v1/charges", [
        ...equalsParam(ctx.params, "customer"),
        ...equalsParam(ctx.params, "payment_intent"),
      ]),
  },
  {
    method: "GET",
    pattern: /^\/v1\/charges\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "charges", id),
  },
  { method: "POST", pattern: /^\/v1\/charges\/([^/]+)\/capture$/, handler: captureCharge },
];
