import { balanceTransaction } from "./balance.ts";
import { behaviorOf } from "./cards.ts";
import { type Ctx, nowSec, type Route } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import { NO_REQUEST } from "./events.ts";
import { settleEarlyFraudWarnings } from "./radar.ts";
import { mergeMetadata, optInt, optString } from "./form.ts";
import { newId } from "./ids.ts";
import { clone, equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

const REASONS = ["duplicate", "fraudulent", "requested_by_customer"];

function chargeToRefund(ctx: Ctx): StripeObject {
  const chargeId = optString(ctx.params, "charge");
  const piId = optString(ctx.params, "payment_intent");
  if (!chargeId && !piId) {
    throw invalidRequest("One of `charge` or `payment_intent` is required.", {
      code: "parameter_missing",
      param: "charge",
    });
  }
  if (chargeId) return getOr404(ctx.store, "charges", chargeId);
  const pi = getOr404(ctx.store, "payment_intents", piId!);
  const charge = pi.latest_charge ? ctx.store.objects.charges.get(pi.latest_charge) : undefined;
  if (!charge || charge.status !== "succeeded" || !charge.captured) {
    throw invalidRequest(
      `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`,
      { code: "charge_not_refundable", param: "payment_intent" },
    );
  }
  return charge;
}

/** Stripe's checks, in its order: the charge, what is left of it, the amount, the reason. */
function refundRequest(ctx: Ctx): { charge: StripeObject; amount: number; reason: string | null } {
  const charge = chargeToRefund(ctx);
  if (!charge.captured) {
    throw invalidRequest(
      `Charge ${charge.id} has not been captured; cancel its PaymentIntent to release it.`,
      { code: "charge_not_refundable" },
    );
  }
  // A chargeback takes the funds back; an inquiry leaves the charge refundable.
  const blocking = [...ctx.store.objects.disputes.values()].some((d) =>
    d.charge === charge.id && !d.is_charge_refundable
  );
  if (blocking) {
    throw invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, {
      code: "charge_disputed",
    });
  }
  // amount_refunded includes what a partial capture released, so this is what is left.
  const remaining = charge.amount - charge.amount_refunded;
  if (remaining <= 0) {
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`, {
      code: "charge_already_refunded",
    });
  }
  const amount = optInt(ctx.params, "amount") ?? remaining;
  if (amount < 1) {
    throw invalidRequest("Refund amount must be a positive integer.", {
      code: "parameter_invalid_integer",
      param: "amount",
    });
  }
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining}).`,
      { code: "amount_too_large", param: "amount" },
    );
  }
  const reason = optString(ctx.params, "reason") ?? null;
  if (reason !== null && !REASONS.includes(reason)) {
    throw invalidRequest(`Invalid reason: must be one of ${REASONS.join(", ")}`, {
      param: "reason",
    });
  }
  return { charge, amount, reason };
}

/** The refund object as Stripe returns it on create. */
function newRefund(
  ctx: Ctx,
  charge: StripeObject,
  r: { id: string; amount: number; reason: string | null; balanceTxn: string; pending: boolean },
): StripeObject {
  const { id, amount, reason, balanceTxn, pending } = r;
  // failure_reason and failure_balance_transaction appear only once a refund fails.
  return {
    id,
    object: "refund",
    amount,
    balance_transaction: balanceTxn,
    charge: charge.id,
    created: nowSec(ctx),
    currency: charge.currency,
    customer: charge.customer,
    customer_account: null,
    destination_details: {
      card: {
        reference_status: "pending",
        reference_type: "acquirer_reference_number",
        type: "refund",
      },
      type: "card",
    },
    metadata: mergeMetadata({}, ctx.params),
    payment_intent: charge.payment_intent,
    payment_method: charge.payment_method,
    reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: pending ? "pending" : "succeeded",
    transfer_reversal: null,
  };
}

function createRefund(ctx: Ctx): StripeObject {
  const { charge, amount, reason } = refundRequest(ctx);
  const settles = pendingRefundOutcome(charge);
  const id = newId("re");
  const txn = balanceTransaction(ctx, {
    amount: -amount,
    currency: charge.currency,
    type: "refund",
    reportingCategory: "refund",
    source: id,
    description: "REFUND FOR CHARGE",
  });
  const pending = settles !== null;
  const refund = newRefund(ctx, charge, { id, amount, reason, balanceTxn: txn.id, pending });
  put(ctx.store, "refunds", refund);
  const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
  // Pending refunds count as refunded at Stripe until they fail or are canceled.
  adjustRefunded(charge, amount);
  ctx.bus.emit("refund.created", refund, ctx.request);
  ctx.bus.emit("charge.refunded", charge, ctx.request, previous);
  if (charge.refunded) settleEarlyFraudWarnings(ctx, charge.id);
  if (settles) scheduleSettlement(ctx, refund.id, settles);
  return refund;
}

/**
 * How a pending refund on this charge ends: the refundFail card's fails, the
 * refundPending card's succeeds; null when the refund succeeds at once.
 */
export function pendingRefundOutcome(charge: StripeObject): "failed" | "succeeded" | null {
  const fingerprint = charge.payment_method_details?.card?.fingerprint;
  const b = fingerprint ? behaviorOf(fingerprint) : null;
  if (b?.kind !== "ok") return null;
  if (b.after === "refund_fail") return "failed";
  return b.after === "refund_pending" ? "succeeded" : null;
}

/** Settles a pending refund after `refundFailureDelayMs`; null leaves it to `settleRefund`. */
export function scheduleSettlement(
  ctx: Ctx,
  id: string,
  outcome: "failed" | "succeeded",
): void {
  if (ctx.refundFailureDelayMs === null) return;
  ctx.bus.schedule(() => settleRefund(ctx, id, outcome), ctx.refundFailureDelayMs);
}

function adjustRefunded(charge: StripeObject, delta: number): void {
  charge.amount_refunded += delta;
  charge.refunded = charge.amount_refunded >= charge.amount;
}

/**
 * A pending refund settles: it succeeds, or it bounces (the card was closed)
 * and its funds return to the balance. A refund no longer pending is left as it is.
 */
export function settleRefund(ctx: Ctx, id: string, outcome: "failed" | "succeeded"): StripeObject {
  const refund = getOr404(ctx.store, "refunds", id);
  if (refund.status !== "pending") return refund;
  const previous = { status: "pending" };
  if (outcome === "succeeded") {
    refund.status = "succeeded";
    ctx.bus.emit("refund.updated", refund, NO_REQUEST, previous);
    ctx.bus.emit("charge.refund.updated", refund, NO_REQUEST, previous);
    return refund;
  }
  const charge = getOr404(ctx.store, "charges", refund.charge);
  const txn = balanceTransaction(ctx, {
    amount: refund.amount,
    currency: refund.currency,
    type: "refund_failure",
    reportingCategory: "refund_failure",
    source: refund.id,
    description: "REFUND FAILURE",
  });
  Object.assign(refund, {
    status: "failed",
    failure_reason: "expired_or_canceled_card",
    failure_balance_transaction: txn.id,
  });
  adjustRefunded(charge, -refund.amount);
  ctx.bus.emit("refund.updated", refund, NO_REQUEST, previous);
  ctx.bus.emit("refund.failed", refund, NO_REQUEST, previous);
  ctx.bus.emit("charge.refund.updated", refund, NO_REQUEST, previous);
  return refund;
}

function updateRefund(ctx: Ctx, [id]: string[]): StripeObject {
  const refund = getOr404(ctx.store, "refunds", id);
  const before = clone(refund.metadata);
  refund.metadata = mergeMetadata(refund.metadata, ctx.params);
  if (JSON.stringify(before) !== JSON.stringify(refund.metadata)) {
    ctx.bus.emit("refund.updated", refund, ctx.request, { metadata: before });
    ctx.bus.emit("charge.refund.updated", refund, ctx.request, { metadata: before });
  }
  return refund;
}

function cancelRefund(ctx: Ctx, [id]: string[]): StripeObject {
  const refund = getOr404(ctx.store, "refunds", id);
  if (refund.status !== "pending") {
    throw invalidRequest(
      `Refund ${id} cannot be canceled because it has a status of ${refund.status}.`,
    );
  }
  refund.status = "canceled";
  adjustRefunded(getOr404(ctx.store, "charges", refund.charge), -refund.amount);
  ctx.bus.emit("refund.updated", refund, ctx.request, { status: "pending" });
  ctx.bus.emit("charge.refund.updated", refund, ctx.request, { status: "pending" });
  return refund;
}

export const refundRoutes: Route[] = [
  { method: "POST", pattern: /^\/v1\/refunds$/, handler: createRefund },
  {
    method: "GET",
    pattern: /^\/v1\/refunds$/,
    handler: (ctx) =>
      listObjects(ctx.store.objects.refunds.values(), ctx.params, "/v1/refunds", [
        ...equalsParam(ctx.params, "charge"),
        ...equalsParam(ctx.params, "payment_intent"),
      ]),
  },
  {
    method: "GET",
    pattern: /^\/v1\/refunds\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "refunds", id),
  },
  { method: "POST", pattern: /^\/v1\/refunds\/([^/]+)$/, handler: updateRefund },
  { method: "POST", pattern: /^\/v1\/refunds\/([^/]+)\/cancel$/, handler: cancelRefund },
];
