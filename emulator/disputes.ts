import { type Ctx, nowSec, previousAttributes, type Route } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import { NO_REQUEST } from "./events.ts";
import { mergeMetadata, optBool, optObject } from "./form.ts";
import { newId } from "./ids.ts";
import { clone, equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

const EVIDENCE_FIELDS = [
  "access_activity_log",
  "billing_address",
  "cancellation_policy",
  "cancellation_policy_disclosure",
  "cancellation_rebuttal",
  "customer_communication",
  "customer_email_address",
  "customer_name",
  "customer_purchase_ip",
  "customer_signature",
  "duplicate_charge_documentation",
  "duplicate_charge_explanation",
  "duplicate_charge_id",
  "product_description",
  "receipt",
  "refund_policy",
  "refund_policy_disclosure",
  "refund_refusal_explanation",
  "service_date",
  "service_documentation",
  "shipping_address",
  "shipping_carrier",
  "shipping_date",
  "shipping_documentation",
  "shipping_tracking_number",
  "uncategorized_file",
  "uncategorized_text",
];
const OPEN = new Set(["needs_response", "warning_needs_response"]);
const DISPUTE_FEE = 1500;
const EVIDENCE_WINDOW_S = 7 * 24 * 3600;

function balanceTransaction(ctx: Ctx, dispute: StripeObject, sign: 1 | -1, what: string) {
  const fee = sign < 0 ? DISPUTE_FEE : -DISPUTE_FEE;
  return {
    id: newId("txn"),
    object: "balance_transaction",
    amount: sign * dispute.amount,
    created: nowSec(ctx),
    currency: dispute.currency,
    description: `${what} for ${dispute.charge}`,
    fee,
    net: sign * dispute.amount - fee,
    reporting_category: sign < 0 ? "dispute" : "dispute_reversal",
    status: "available",
    type: "adjustment",
  };
}

/** Opens a fraudulent-reason dispute on a charge, as the createDispute test card does. */
export function createDispute(ctx: Ctx, chargeId: string): StripeObject {
  const charge = getOr404(ctx.store, "charges", chargeId);
  const created = nowSec(ctx);
  const dispute: StripeObject = {
    id: newId("du"),
    object: "dispute",
    amount: charge.amount,
    balance_transactions: [],
    charge: charge.id,
    created,
    currency: charge.currency,
    evidence: Object.fromEntries(EVIDENCE_FIELDS.map((f) => [f, null])),
    evidence_details: {
      due_by: created + EVIDENCE_WINDOW_S,
      has_evidence: false,
      past_due: false,
      submission_count: 0,
    },
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    network_reason_code: "10.4",
    payment_intent: charge.payment_intent,
    payment_method_details: {
      card: { brand: charge.payment_method_details?.card?.brand ?? null, case_type: "chargeback" },
      type: "card",
    },
    reason: "fraudulent",
    status: "needs_response",
  };
  dispute.balance_transactions.push(balanceTransaction(ctx, dispute, -1, "Chargeback withdrawal"));
  put(ctx.store, "disputes", dispute);
  charge.disputed = true;
  ctx.bus.emit("charge.dispute.created", dispute, NO_REQUEST);
  ctx.bus.emit("charge.dispute.funds_withdrawn", dispute, NO_REQUEST);
  return dispute;
}

function updateDispute(ctx: Ctx, [id]: string[]): StripeObject {
  const dispute = getOr404(ctx.store, "disputes", id);
  const before = clone(dispute);
  const evidence = optObject(ctx.params, "evidence");
  const submit = optBool(ctx.params, "submit") ?? true;
  // Stripe submits by default when evidence is posted without `submit=false`.
  const touchesEvidence = evidence !== undefined || ctx.params.submit !== undefined;
  if (touchesEvidence && !OPEN.has(dispute.status)) {
    throw invalidRequest(
      `This dispute is already ${dispute.status.replaceAll("_", " ")}; evidence can no ` +
        "longer be changed or submitted.",
      { param: evidence ? "evidence" : "submit" },
    );
  }
  for (const [k, v] of Object.entries(evidence ?? {})) {
    if (!EVIDENCE_FIELDS.includes(k)) {
      throw invalidRequest(`Received unknown parameter: evidence[${k}]`, {
        param: `evidence[${k}]`,
      });
    }
    if (typeof v !== "string") {
      throw invalidRequest(`Invalid string: evidence[${k}]`, { param: `evidence[${k}]` });
    }
    dispute.evidence[k] = v === "" ? null : v;
  }
  dispute.metadata = mergeMetadata(dispute.metadata, ctx.params);
  const details = dispute.evidence_details;
  details.has_evidence = Object.values(dispute.evidence).some((v) => v !== null);
  if (touchesEvidence && submit) {
    dispute.status = "under_review";
    details.submission_count += 1;
  }
  const prev = previousAttributes(before, dispute);
  if (Object.keys(prev).length) {
    ctx.bus.emit("charge.dispute.updated", dispute, ctx.request, prev);
  }
  return dispute;
}

function closeDispute(ctx: Ctx, [id]: string[]): StripeObject {
  const dispute = getOr404(ctx.store, "disputes", id);
  if (!OPEN.has(dispute.status)) {
    throw invalidRequest(`This dispute is already ${dispute.status.replaceAll("_", " ")}.`);
  }
  const previous = { status: dispute.status };
  dispute.status = dispute.status === "warning_needs_response" ? "warning_closed" : "lost";
  ctx.bus.emit("charge.dispute.closed", dispute, ctx.request, previous);
  return dispute;
}

/** Settles a dispute the way the card network eventually would (control API for tests/demo). */
export function resolveDispute(ctx: Ctx, id: string, outcome: "won" | "lost"): StripeObject {
  const dispute = getOr404(ctx.store, "disputes", id);
  if (["won", "lost", "warning_closed"].includes(dispute.status)) {
    throw invalidRequest(`Dispute ${id} is already closed (${dispute.status}).`);
  }
  const previous = { status: dispute.status };
  dispute.status = outcome;
  if (outcome === "won") {
    dispute.balance_transactions.push(
      balanceTransaction(ctx, dispute, 1, "Chargeback reversal"),
    );
  }
  ctx.bus.emit("charge.dispute.closed", dispute, NO_REQUEST, previous);
  if (outcome === "won") ctx.bus.emit("charge.dispute.funds_reinstated", dispute, NO_REQUEST);
  return dispute;
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
