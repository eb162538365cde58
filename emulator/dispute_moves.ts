/**
 * Test controls that move a dispute's evidence deadline, as Stripe does on its own: an inquiry
 * the cardholder's bank escalates to a chargeback (with a deadline of its own, and the funds
 * withdrawn then), and a deadline Stripe extends (README "Dispute workbench", Rehearsing
 * disputes in demo mode).
 */
import { type Ctx, nowSec, previousAttributes } from "./context.ts";
import { disputeFunds, EVIDENCE_WINDOW_S } from "./disputes.ts";
import { invalidRequest } from "./errors.ts";
import { NO_REQUEST } from "./events.ts";
import { clone, getOr404, type StripeObject } from "./store.ts";

/** Inquiry statuses an escalation leaves: one still open or being reviewed. */
const ESCALATES = new Set(["warning_needs_response", "warning_under_review"]);
/** Statuses whose evidence deadline can still move. */
const EXTENDS = new Set(["needs_response", "warning_needs_response"]);

/** A deadline given to a control: a whole number of seconds since the epoch, after `after`. */
function deadline(value: unknown, param: string, after: number, why: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw invalidRequest(`${param} must be a Unix timestamp in whole seconds`, { param });
  }
  if (value <= after) {
    throw invalidRequest(`${param} must be after ${after} (${why})`, { param });
  }
  return value;
}

export interface EscalateOptions {
  /** the chargeback's evidence deadline (Unix seconds, in the future); default 7 days on */
  due_by?: number;
}

/**
 * The cardholder's bank escalates an inquiry (`warning_needs_response`, or
 * `warning_under_review` once answered) to a chargeback: `needs_response` with a new
 * `evidence_details.due_by`, `past_due` false, the charge no longer refundable, the case a
 * chargeback, and the disputed amount and dispute fee withdrawn. The same dispute object
 * moves (`charge.dispute.updated`, then `charge.dispute.funds_withdrawn`); the evidence
 * already staged or submitted, and its `submission_count`, stay.
 */
export function escalateDispute(ctx: Ctx, id: string, opts: EscalateOptions = {}): StripeObject {
  const dispute = getOr404(ctx.store, "disputes", id);
  if (!ESCALATES.has(dispute.status)) {
    throw invalidRequest(
      `Dispute ${id} is ${dispute.status}: only an open inquiry (warning_needs_response or ` +
        "warning_under_review) can be escalated to a chargeback.",
    );
  }
  const now = nowSec(ctx);
  const due = opts.due_by === undefined
    ? now + EVIDENCE_WINDOW_S
    : deadline(opts.due_by, "due_by", now, "the chargeback's deadline is ahead");
  const before = clone(dispute);
  dispute.status = "needs_response";
  dispute.is_charge_refundable = false;
  dispute.payment_method_details.card.case_type = "chargeback";
  dispute.evidence_details.due_by = due;
  dispute.evidence_details.past_due = false;
  dispute.balance_transactions.push(disputeFunds(ctx, dispute, -1));
  ctx.bus.emit("charge.dispute.updated", dispute, NO_REQUEST, previousAttributes(before, dispute));
  ctx.bus.emit("charge.dispute.funds_withdrawn", dispute, NO_REQUEST);
  return dispute;
}

/**
 * Stripe extends an open dispute's evidence deadline to `dueBy` (Unix seconds, later than the
 * current one): `past_due` is true only if the new deadline has passed too
 * (`charge.dispute.updated`, its `previous_attributes` the old `evidence_details`).
 */
export function extendDisputeDeadline(ctx: Ctx, id: string, dueBy: number): StripeObject {
  const dispute = getOr404(ctx.store, "disputes", id);
  if (!EXTENDS.has(dispute.status)) {
    throw invalidRequest(
      `Dispute ${id} is ${dispute.status}: only a dispute waiting for evidence ` +
        "(needs_response or warning_needs_response) has a deadline to extend.",
    );
  }
  const current = dispute.evidence_details.due_by;
  if (current === null || current === 0) {
    throw invalidRequest(`Dispute ${id} takes no response: it has no evidence deadline.`);
  }
  const due = deadline(dueBy, "due_by", current, "an extension moves the deadline later");
  const before = clone(dispute);
  dispute.evidence_details.due_by = due;
  dispute.evidence_details.past_due = nowSec(ctx) > due;
  ctx.bus.emit("charge.dispute.updated", dispute, NO_REQUEST, previousAttributes(before, dispute));
  return dispute;
}
