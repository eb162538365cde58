import {
  behaviorOf,
  type CardBehavior,
  cardDetails,
  chargeOutcome,
  declineOf,
  magicCardNumber,
} from "./cards.ts";
import { type Ctx, nowSec, type Route } from "./context.ts";
import { createDispute } from "./disputes.ts";
import { ApiError, invalidRequest } from "./errors.ts";
import { mergeMetadata, optString, reqString } from "./form.ts";
import { newId, randomToken } from "./ids.ts";
import { createEarlyFraudWarning } from "./radar.ts";
import { equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

export interface ChargeInput {
  amount: number;
  currency: string;
  customer: string | null;
  paymentIntent: string | null;
  paymentMethodId: string;
  card: StripeObject;
  billingDetails: StripeObject;
  description: string | null;
  metadata: Record<string, string>;
}

export interface ChargeResult {
  charge: StripeObject;
  behavior: CardBehavior;
  decline: ReturnType<typeof declineOf>;
}

/** Creates and stores the charge; the caller emits events so they come in Stripe's order. */
export function chargeCard(ctx: Ctx, input: ChargeInput, offSession = false): ChargeResult {
  let behavior = behaviorOf(input.card.fingerprint);
  // Off-session there is nobody to authenticate, so an SCA card simply declines.
  if (behavior.kind === "auth_required" && !offSession) behavior = { kind: "ok", risk: "normal" };
  const decline = declineOf(behavior);
  const ok = decline === null;
  const { card } = input;
  const charge: StripeObject = {
    id: newId("ch"),
    object: "charge",
    amount: input.amount,
    amount_captured: ok ? input.amount : 0,
    amount_refunded: 0,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: input.billingDetails,
    calculated_statement_descriptor: "EMULATOR",
    captured: ok,
    created: nowSec(ctx),
    currency: input.currency,
    customer: input.customer,
    description: input.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: decline?.code ?? null,
    failure_message: decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: input.metadata,
    outcome: chargeOutcome(behavior),
    paid: ok,
    payment_intent: input.paymentIntent,
    payment_method: input.paymentMethodId,
    payment_method_details: {
      card: {
        brand: card.brand,
        checks: card.checks,
        country: card.country,
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        fingerprint: card.fingerprint,
        funding: card.funding,
        last4: card.last4,
        network: card.brand,
      },
      type: "card",
    },
    receipt_email: null,
    receipt_url: null,
    refunded: false,
    review: null,
    statement_descriptor: null,
    status: ok ? "succeeded" : "failed",
  };
  put(ctx.store, "charges", charge);
  return { charge, behavior, decline };
}

/** Side effects Stripe's test cards trigger after a successful charge (its events come first). */
export function scheduleAftermath(ctx: Ctx, result: ChargeResult): void {
  if (result.behavior.kind !== "ok" || !result.behavior.after) return;
  const chargeId = result.charge.id;
  if (result.behavior.after === "dispute") {
    ctx.bus.schedule(() => createDispute(ctx, chargeId), ctx.disputeDelayMs);
  } else if (result.behavior.after === "early_fraud_warning") {
    ctx.bus.schedule(() => createEarlyFraudWarning(ctx, chargeId), 0);
  }
}

export function cardErrorBody(decline: NonNullable<ChargeResult["decline"]>): StripeObject {
  return {
    type: "card_error",
    code: decline.code,
    decline_code: decline.decline_code,
    advice_code: decline.advice_code,
    message: decline.message,
    doc_url: `https://stripe.com/docs/error-codes/${decline.code.replaceAll("_", "-")}`,
  };
}

// Legacy Charges API (`source=tok_visa`) for integrations that never adopted PaymentIntents.
function createCharge(ctx: Ctx): StripeObject {
  const { amount, currency } = amountAndCurrency(ctx);
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
  const result = chargeCard(ctx, {
    amount,
    currency,
    customer,
    paymentIntent: null,
    paymentMethodId: newId("card"),
    card,
    billingDetails: { address: null, email: null, name: null, phone: null },
    description: optString(ctx.params, "description") ?? null,
    metadata: mergeMetadata({}, ctx.params),
  }, true);
  const { charge, decline } = result;
  charge.source = { id: charge.payment_method, object: "card", ...card, customer };
  ctx.bus.emit(decline ? "charge.failed" : "charge.succeeded", charge, ctx.request);
  if (decline) throw new ApiError(402, { ...cardErrorBody(decline), charge: charge.id });
  scheduleAftermath(ctx, result);
  return charge;
}

export function amountAndCurrency(ctx: Ctx): { amount: number; currency: string } {
  const raw = reqString(ctx.params, "amount");
  const amount = Number(raw);
  if (!/^\d+$/.test(raw) || amount < 1) {
    throw invalidRequest("This value must be greater than or equal to 1.", {
      code: "parameter_invalid_integer",
      param: "amount",
    });
  }
  const currency = reqString(ctx.params, "currency");
  if (!/^[a-z]{3}$/.test(currency)) {
    throw invalidRequest(`Invalid currency: ${currency}. Use a lowercase ISO code.`, {
      param: "currency",
    });
  }
  return { amount, currency };
}

export function newClientSecret(id: string): string {
  return `${id}_secret_${randomToken(24)}`;
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
];
