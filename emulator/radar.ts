import { type Ctx, nowSec, type Route } from "./context.ts";
import { NO_REQUEST } from "./events.ts";
import { newId } from "./ids.ts";
import { equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

/** The issuer's early fraud warning the createEarlyFraudWarning test card produces. */
export function createEarlyFraudWarning(ctx: Ctx, chargeId: string): StripeObject {
  const charge = getOr404(ctx.store, "charges", chargeId);
  const warning: StripeObject = {
    id: newId("issfr"),
    object: "radar.early_fraud_warning",
    actionable: !charge.refunded && !charge.disputed,
    charge: charge.id,
    created: nowSec(ctx),
    fraud_type: "made_with_stolen_card",
    livemode: false,
  };
  // The SDK types payment_intent as present-or-absent, never null: legacy charges omit it.
  if (charge.payment_intent) warning.payment_intent = charge.payment_intent;
  put(ctx.store, "early_fraud_warnings", warning);
  ctx.bus.emit("radar.early_fraud_warning.created", warning, NO_REQUEST);
  return warning;
}

/**
 * A warning stops being actionable once its charge is fully refunded or disputed: Stripe
 * sends `radar.early_fraud_warning.updated` for each one that changes.
 */
export function settleEarlyFraudWarnings(ctx: Ctx, chargeId: string): void {
  for (const warning of ctx.store.objects.early_fraud_warnings.values()) {
    if (warning.charge !== chargeId || !warning.actionable) continue;
    warning.actionable = false;
    ctx.bus.emit("radar.early_fraud_warning.updated", warning, ctx.request, { actionable: true });
  }
}

export const radarRoutes: Route[] = [
  {
    method: "GET",
    pattern: /^\/v1\/radar\/early_fraud_warnings$/,
    handler: (ctx) =>
      listObjects(
        ctx.store.objects.early_fraud_warnings.values(),
        ctx.params,
        "/v1/radar/early_fraud_warnings",
        [...equalsParam(ctx.params, "charge"), ...equalsParam(ctx.params, "payment_intent")],
      ),
  },
  {
    method: "GET",
    pattern: /^\/v1\/radar\/early_fraud_warnings\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "early_fraud_warnings", id),
  },
];
