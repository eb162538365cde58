import { balanceTransaction, DISPUTE_FEE } from "./balance.ts";
import type { CardAftermath } from "./cards.ts";
import { type Ctx, nowSec, type Route } from "./context.ts";
import { CLOSED, EVIDENCE_FIELDS, OPEN, updateDispute } from "./dispute_evidence.ts";
import { invalidRequest } from "./errors.ts";
import { NO_REQUEST } from "./events.ts";
import { newId } from "./ids.ts";
import { settleEarlyFraudWarnings } from "./radar.ts";
import { equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

/** How long a new dispute (or an escalated inquiry) gives for evidence. */
export const EVIDENCE_WINDOW_S = 7 * 24 * 3600;

// Card networks' reason codes for the two dispute reasons the test cards produce.
const REASON_CODES: Record<string, Record<string, string>> = {
  fraudulent: { visa: "10.4", mastercard: "4837", amex: "F29", discover: "UA02" },
  product_not_received: { visa: "13.1", mastercard: "4855", amex: "C08", discover: "4755" },
};

/** The withdrawal (or, with sign +1, reinstatement) of a dispute's funds and fee. */
export function disputeFunds(ctx: Ctx, dispute: StripeObject, sign: 1 | -1): StripeObject {
  const fee = sign < 0 ? DISPUTE_FEE : -DISPUTE_FEE;
  return balanceTransaction(ctx, {
    amount: sign * dispute.amount,
    currency: dispute.currency,
    type: "adjustment",
    reportingCategory: sign < 0 ? "dispute" : "dispute_reversal",
    source: dispute.id,
    description: `${
      sign < 0 ? "Chargeback withdrawal" : "Chargeback reversal"
    } for ${dispute.charge}`,
    fee,
    feeDescription: "Dispute fee",
  });
}

/**
 * Opens the dispute a dispute test card produces: a fraudulent or product-not-received
 * chargeback (funds withdrawn at once), or an inquiry (`warning_needs_response`, no funds
 * move and the charge can still be refunded).
 */
export function createDispute(ctx: Ctx, chargeId: string, kind: CardAftermath): StripeObject {
  const charge = getOr404(ctx.store, "charges", chargeId);
  const created = nowSec(ctx);
  const inquiry = kind === "dispute_inquiry";
  const reason = kind === "dispute_not_received" ? "product_not_received" : "fraudulent";
  const brand = charge.payment_method_details?.card?.brand ?? "visa";
  const networkReason = REASON_CODES[reason][brand] ?? REASON_CODES[reason].visa;
  const dispute: StripeObject = {
    id: newId("du"),
    object: "dispute",
    amount: charge.amount_captured,
    balance_transactions: [],
    charge: charge.id,
    created,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: {
      ...Object.fromEntries(EVIDENCE_FIELDS.map((f) => [f, null])),
      enhanced_evidence: {},
    },
    evidence_details: {
      due_by: created + EVIDENCE_WINDOW_S,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: "not_submitted",
    },
    intended_submission_method: null,
    is_charge_refundable: inquiry,
    livemode: false,
    metadata: {},
    network_reason_code: networkReason,
    payment_intent: charge.payment_intent,
    payment_method_details: {
      card: {
        brand,
        case_type: inquiry ? "inquiry" : "chargeback",
        network: brand,
        network_reason_code: networkReason,
      },
      type: "card",
    },
    reason,
    status: inquiry ? "warning_needs_response" : "needs_response",
  };
  put(ctx.store, "disputes", dispute);
  if (!inquiry) dispute.balance_transactions.push(disputeFunds(ctx, dispute, -1));
  charge.disputed = true;
  ctx.bus.emit("charge.dispute.created", dispute, NO_REQUEST);
  if (!inquiry) ctx.bus.emit("charge.dispute.funds_withdrawn", dispute, NO_REQUEST);
  settleEarlyFraudWarnings(ctx, charge.id);
  return dispute;
}

/** `POST /v1/disputes/{id}/close`: the merchant accepts the loss. */
function closeDispute(ctx: Ctx, [id]: string[]): StripeObject {
  const dispute = getOr404(ctx.store, "disputes", id);
  if (!OPEN.has(dispute.status)) {
    throw invalidRequest(`This dispute is already ${dispute.status.replaceAll("_", " ")}.`);
  }
  const previous = { status: dispute.status, is_charge_refundable: dispute.is_charge_refundable };
  const inquiry = dispute.status === "warning_needs_response";
  dispute.status = inquiry ? "warning_closed" : "lost";
  // an inquiry closes without a chargeback: Stripe leaves its charge refundable
  dispute.is_charge_refundable = inquiry;
  ctx.bus.emit("charge.dispute.closed", dispute, ctx.request, previous);
  return dispute;
}

/**
 * Settles a dispute the way the card network eventually would (test control). A won
 * chargeback gets its funds back (`funds_reinstated`); a won inquiry simply closes (its
 * charge still refundable); a lost
 * inquiry becomes a lost chargeback, whose funds are withdrawn then.
 */
export function resolveDispute(ctx: Ctx, id: string, outcome: "won" | "lost"): StripeObject {
  const dispute = getOr404(ctx.store, "disputes", id);
  if (CLOSED.has(dispute.status)) {
    throw invalidRequest(`Dispute ${id} is already closed (${dispute.status}).`);
  }
  const inquiry = dispute.status.startsWith("warning_");
  const previous = { status: dispute.status, is_charge_refundable: dispute.is_charge_refundable };
  // a won inquiry closes without a chargeback, its charge still refundable; a lost one
  // becomes a chargeback, and Stripe refuses every refund of a charge charged back
  dispute.is_charge_refundable = inquiry && outcome === "won";
  if (inquiry && outcome === "won") dispute.status = "warning_closed";
  else dispute.status = outcome;
  if (inquiry && outcome === "lost") {
    dispute.balance_transactions.push(disputeFunds(ctx, dispute, -1));
    ctx.bus.emit("charge.dispute.funds_withdrawn", dispute, NO_REQUEST);
  }
  const reinstate = !inquiry && outcome === "won";
  if (reinstate) dispute.balance_transactions.push(disputeFunds(ctx, dispute, 1));
  ctx.bus.emit("charge.dispute.closed", dispute, NO_REQUEST, previous);
  if (reinstate) ctx.bus.emit("charge.dispute.funds_reinstated", dispute, NO_REQUEST);
  return dispute;
}

/** Marks open disputes whose evidence deadline has passed (run when the clock moves). */
export function markPastDue(ctx: Ctx): void {
  for (const dispute of ctx.store.objects.disputes.values()) {
    const details = dispute.evidence_details;
    if (details.past_due || details.due_by === null || nowSec(ctx) <= details.due_by) continue;
    if (!OPEN.has(dispute.status)) continue;
    details.past_due = true;
    ctx.bus.emit("charge.dispute.updated", dispute, NO_REQUEST, {
      evidence_details: { ...details, past_due: false },
    });
  }
}

export const disputeRoutes: Route[] = [
  {
    method: "GET",
    pattern: /^\/v1\/disputes$/,
    handler: (ctx) =>
      listObjects(ctx.store.objects.disputes.values(), ctx.params, "/v1/disputes", [
        ...equalsParam(ctx.params, "charge"),
        ...equalsParam(ctx.params, "payment_intent"),
      ]),
  },
  {
    method: "GET",
    pattern: /^\/v1\/disputes\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "disputes", id),
  },
  { method: "POST", pattern: /^\/v1\/disputes\/([^/]+)$/, handler: updateDispute },
  { method: "POST", pattern: /^\/v1\/disputes\/([^/]+)\/close$/, handler: closeDispute },
];
