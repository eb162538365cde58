import { cardDetails, magicCardNumber } from "./cards.ts";
import { type Ctx, nowSec, type Route } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import { mergeMetadata, optInt, optObject, optString, reqString } from "./form.ts";
import { newId } from "./ids.ts";
import { getOr404, listObjects, put, type StripeObject } from "./store.ts";

function emptyBillingDetails(): StripeObject {
  return {
    address: {
      city: null,
      country: null,
      line1: null,
      line2: null,
      postal_code: null,
      state: null,
    },
    email: null,
    name: null,
    phone: null,
    tax_id: null,
  };
}

function storePaymentMethod(ctx: Ctx, card: StripeObject): StripeObject {
  const billing = emptyBillingDetails();
  const given = optObject(ctx.params, "billing_details");
  for (const k of ["email", "name", "phone"]) {
    if (given && typeof given[k] === "string") billing[k] = given[k];
  }
  const pm: StripeObject = {
    id: newId("pm"),
    object: "payment_method",
    allow_redisplay: "unspecified",
    billing_details: billing,
    card,
    created: nowSec(ctx),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: mergeMetadata({}, ctx.params),
    type: "card",
  };
  return put(ctx.store, "payment_methods", pm);
}

/** Magic test ids resolve to a fresh PaymentMethod each time, as at Stripe. */
export function resolvePaymentMethod(ctx: Ctx, id: string, param = "payment_method"): StripeObject {
  const number = magicCardNumber(id);
  if (number && id.startsWith("pm_card_")) {
    const year = new Date(ctx.now()).getUTCFullYear() + 1;
    return storePaymentMethod({ ...ctx, params: {} }, cardDetails(number, 12, year));
  }
  const pm = ctx.store.objects.payment_methods.get(id);
  if (!pm) {
    throw invalidRequest(`No such PaymentMethod: '${id}'`, { code: "resource_missing", param });
  }
  return pm;
}

function createPaymentMethod(ctx: Ctx): StripeObject {
  const type = reqString(ctx.params, "type");
  if (type !== "card") {
    throw invalidRequest(`The emulator only supports type=card, got '${type}'.`, {
      param: "type",
    });
  }
  const card = optObject(ctx.params, "card");
  if (!card) throw invalidRequest("Missing required param: card.", { param: "card" });
  const token = optString(card, "token");
  if (token) {
    const number = magicCardNumber(token);
    if (!number) throw invalidRequest(`No such token: '${token}'`, { param: "card[token]" });
    return storePaymentMethod(ctx, cardDetails(number, 12, new Date().getUTCFullYear() + 1));
  }
  const number = reqString(card, "number");
  const expMonth = optInt(card, "exp_month") ?? 12;
  const expYear = optInt(card, "exp_year") ?? new Date(ctx.now()).getUTCFullYear() + 1;
  if (expMonth < 1 || expMonth > 12) {
    throw invalidRequest("Your card's expiration month is invalid.", {
      code: "invalid_expiry_month",
      param: "card[exp_month]",
    });
  }
  return storePaymentMethod(ctx, cardDetails(number, expMonth, expYear));
}

function attach(ctx: Ctx, [id]: string[]): StripeObject {
  const customerId = reqString(ctx.params, "customer");
  getOr404(ctx.store, "customers", customerId);
  const pm = resolvePaymentMethod(ctx, id, "id");
  if (pm.customer && pm.customer !== customerId) {
    throw invalidRequest(
      "The payment method you provided has already been attached to a customer.",
      { code: "payment_method_unexpected_state" },
    );
  }
  if (pm.customer !== customerId) {
    pm.customer = customerId;
    ctx.bus.emit("payment_method.attached", pm, ctx.request);
  }
  return pm;
}

function detach(ctx: Ctx, [id]: string[]): StripeObject {
  const pm = getOr404(ctx.store, "payment_methods", id);
  if (!pm.customer) {
    throw invalidRequest("The payment method you provided is not attached to a customer.", {
      code: "payment_method_unexpected_state",
    });
  }
  const previous = { customer: pm.customer };
  pm.customer = null;
  ctx.bus.emit("payment_method.detached", pm, ctx.request, previous);
  return pm;
}

function listForCustomer(ctx: Ctx, customer: string | undefined, url: string): StripeObject {
  const type = optString(ctx.params, "type");
  return listObjects(ctx.store.objects.payment_methods.values(), ctx.params, url, [
    (pm) => customer === undefined || pm.customer === customer,
    (pm) => type === undefined || pm.type === type,
  ]);
}

export const paymentMethodRoutes: Route[] = [
  { method: "POST", pattern: /^\/v1\/payment_methods$/, handler: createPaymentMethod },
  {
    method: "GET",
    pattern: /^\/v1\/payment_methods$/,
    handler: (ctx) =>
      listForCustomer(ctx, optString(ctx.params, "customer"), "/v1/payment_methods"),
  },
  {
    method: "GET",
    pattern: /^\/v1\/payment_methods\/([^/]+)$/,
    handler: (ctx, [id]) => resolvePaymentMethod(ctx, id, "id"),
  },
  { method: "POST", pattern: /^\/v1\/payment_methods\/([^/]+)\/attach$/, handler: attach },
  { method: "POST", pattern: /^\/v1\/payment_methods\/([^/]+)\/detach$/, handler: detach },
  {
    method: "GET",
    pattern: /^\/v1\/customers\/([^/]+)\/payment_methods$/,
    handler: (ctx, [id]) => {
      getOr404(ctx.store, "customers", id);
      return listForCustomer(ctx, id, `/v1/customers/${id}/payment_methods`);
    },
  },
];
