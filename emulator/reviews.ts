import { type Ctx, nowSec, type Route } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import { NO_REQUEST } from "./events.ts";
import { newId } from "./ids.ts";
import { equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

/**
 * Radar's review of an elevated-risk payment (Stripe's riskLevelElevated card with Radar for
 * Fraud Teams): linked from the charge and its PaymentIntent, announced by `review.opened`.
 */
export function openReview(ctx: Ctx, charge: StripeObject): StripeObject {
  const review: StripeObject = {
    id: newId("prv"),
    object: "review",
    billing_zip: null,
    charge: charge.id,
    closed_reason: null,
    created: nowSec(ctx),
    ip_address: null,
    ip_address_location: null,
    livemode: false,
    open: true,
    opened_reason: "rule",
    reason: "rule",
    session: null,
  };
  if (charge.payment_intent) review.payment_intent = charge.payment_intent;
  put(ctx.store, "reviews", review);
  charge.review = review.id;
  const pi = charge.payment_intent
    ? ctx.store.objects.payment_intents.get(charge.payment_intent)
    : undefined;
  if (pi) pi.review = review.id;
  ctx.bus.emit("review.opened", review, NO_REQUEST);
  return review;
}

function approve(ctx: Ctx, [id]: string[]): StripeObject {
  const review = getOr404(ctx.store, "reviews", id);
  if (!review.open) {
    throw invalidRequest(`This review is already closed (${review.closed_reason}).`, {
      code: "review_already_closed",
    });
  }
  Object.assign(review, { open: false, closed_reason: "approved", reason: "approved" });
  ctx.bus.emit("review.closed", review, ctx.request, {
    open: true,
    closed_reason: null,
    reason: "rule",
  });
  return review;
}

export const reviewRoutes: Route[] = [
  {
    method: "GET",
    pattern: /^\/v1\/reviews$/,
    handler: (ctx) =>
      listObjects(ctx.store.objects.reviews.values(), ctx.params, "/v1/reviews", [
        ...equalsParam(ctx.params, "charge"),
      ]),
  },
  {
    method: "GET",
    pattern: /^\/v1\/reviews\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "reviews", id),
  },
  { method: "POST", pattern: /^\/v1\/reviews\/([^/]+)\/approve$/, handler: approve },
];
