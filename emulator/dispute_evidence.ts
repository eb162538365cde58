import { type Ctx, nowSec, previousAttributes } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import { mergeMetadata, optBool, optObject, type Params } from "./form.ts";
import { clone, getOr404, type StripeObject } from "./store.ts";

/**
 * Stripe's classic evidence fields and what each takes: text, or the id of a
 * File uploaded with `purpose=dispute_evidence`.
 */
const EVIDENCE_KINDS: Record<string, "text" | "file"> = {
  access_activity_log: "text",
  billing_address: "text",
  cancellation_policy: "file",
  cancellation_policy_disclosure: "text",
  cancellation_rebuttal: "text",
  customer_communication: "file",
  customer_email_address: "text",
  customer_name: "text",
  customer_purchase_ip: "text",
  customer_signature: "file",
  duplicate_charge_documentation: "file",
  duplicate_charge_explanation: "text",
  duplicate_charge_id: "text",
  product_description: "text",
  receipt: "file",
  refund_policy: "file",
  refund_policy_disclosure: "text",
  refund_refusal_explanation: "text",
  service_date: "text",
  service_documentation: "file",
  shipping_address: "text",
  shipping_carrier: "text",
  shipping_date: "text",
  shipping_documentation: "file",
  shipping_tracking_number: "text",
  uncategorized_file: "file",
  uncategorized_text: "text",
};
export const EVIDENCE_FIELDS = Object.keys(EVIDENCE_KINDS);
/** Statuses in which Stripe still takes evidence or a close (accepting the loss). */
export const OPEN = new Set(["needs_response", "warning_needs_response"]);
export const CLOSED = new Set(["won", "lost", "warning_closed", "prevented"]);

function refuseEvidence(ctx: Ctx, dispute: StripeObject, param: string): void {
  if (!OPEN.has(dispute.status)) {
    throw invalidRequest(
      `This dispute is already ${dispute.status.replaceAll("_", " ")}; evidence can no ` +
        "longer be changed or submitted.",
      { param },
    );
  }
  const due = dispute.evidence_details.due_by;
  if (due !== null && nowSec(ctx) > due) {
    dispute.evidence_details.past_due = true;
    throw invalidRequest(
      "The deadline for responding to this dispute has passed: evidence can no longer be " +
        "changed or submitted.",
      { param },
    );
  }
}

function checkValue(ctx: Ctx, field: string, value: unknown): string | null {
  const param = `evidence[${field}]`;
  if (!EVIDENCE_FIELDS.includes(field)) {
    throw invalidRequest(`Received unknown parameter: ${param}`, { param });
  }
  if (typeof value !== "string") throw invalidRequest(`Invalid string: ${param}`, { param });
  if (value === "") return null;
  if (EVIDENCE_KINDS[field] === "file") {
    const file = ctx.store.objects.files.get(value);
    if (!file) {
      throw invalidRequest(`No such file upload: '${value}'`, { code: "resource_missing", param });
    }
    if (file.purpose !== "dispute_evidence") {
      throw invalidRequest(
        `File ${value} was uploaded with purpose '${file.purpose}'; dispute evidence needs ` +
          "purpose 'dispute_evidence'.",
        { param },
      );
    }
  }
  return value;
}

/** The programs of `enhanced_evidence` (the SDK's `DisputeUpdateParams.Evidence.EnhancedEvidence`). */
const PROGRAMS = new Set([
  "mastercard_compliance",
  "visa_compelling_evidence_3",
  "visa_compliance",
]);

/**
 * `evidence[enhanced_evidence]` as Stripe takes it: `""` empties it (it is `Emptyable`);
 * a hash sets the programs it names and keeps the others (Stripe merges nested hashes).
 * A program is not `Emptyable`: `""` for one is refused, so a program is taken away only
 * by emptying `enhanced_evidence`. `fee_acknowledged` is a boolean, as Stripe answers it.
 */
function enhancedEvidence(held: Record<string, unknown>, v: unknown): Record<string, unknown> {
  const param = "evidence[enhanced_evidence]";
  if (v === "") return {};
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw invalidRequest(`Invalid object: ${param}`, { param });
  }
  const next = { ...held };
  for (const [program, value] of Object.entries(v as Record<string, unknown>)) {
    const at = `${param}[${program}]`;
    if (!PROGRAMS.has(program)) {
      throw invalidRequest(`Received unknown parameter: ${at}`, { param: at });
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      throw invalidRequest(`Invalid object: ${at}`, { param: at });
    }
    const fields: Record<string, unknown> = { ...value };
    const ack = optBool(fields as Params, "fee_acknowledged");
    if (ack !== undefined) fields.fee_acknowledged = ack;
    next[program] = { ...(next[program] as object), ...fields };
  }
  return next;
}

/**
 * `POST /v1/disputes/{id}`: evidence and metadata. As at Stripe, `submit` defaults to true,
 * so evidence is sent to the bank unless `submit=false` stages it; a submitted dispute goes
 * to `under_review` (an inquiry to `warning_under_review`) and takes no further evidence.
 */
export function updateDispute(ctx: Ctx, [id]: string[]): StripeObject {
  const dispute = getOr404(ctx.store, "disputes", id);
  const before = clone(dispute);
  const evidence = optObject(ctx.params, "evidence");
  const submit = optBool(ctx.params, "submit") ?? true;
  const touchesEvidence = evidence !== undefined || ctx.params.submit !== undefined;
  if (touchesEvidence) refuseEvidence(ctx, dispute, evidence ? "evidence" : "submit");
  for (const [k, v] of Object.entries(evidence ?? {})) {
    if (k === "enhanced_evidence") {
      dispute.evidence.enhanced_evidence = enhancedEvidence(dispute.evidence.enhanced_evidence, v);
      continue;
    }
    dispute.evidence[k] = checkValue(ctx, k, v);
  }
  dispute.metadata = mergeMetadata(dispute.metadata, ctx.params);
  const details = dispute.evidence_details;
  details.has_evidence = EVIDENCE_FIELDS.some((f) => dispute.evidence[f] !== null);
  if (touchesEvidence && submit) {
    dispute.status = dispute.status === "warning_needs_response"
      ? "warning_under_review"
      : "under_review";
    details.submission_count += 1;
    details.submission_method = "manual";
  }
  const prev = previousAttributes(before, dispute);
  if (Object.keys(prev).length) {
    ctx.bus.emit("charge.dispute.updated", dispute, ctx.request, prev);
  }
  return dispute;
}
