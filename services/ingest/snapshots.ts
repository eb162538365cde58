/**
 * Stripe objects -> the small snapshots a transaction is derived from, each with
 * its place in the object's history (`order`, compared element by element).
 *
 * `at` is when the snapshot was true: the event's `created` (seconds), or the
 * time of a fetch for objects read from the API (backfill, re-fetch).
 */
import type Stripe from "stripe";
import type {
  ChargeSnap,
  EfwSnap,
  PaymentErrorSummary,
  PaymentMethodSummary,
  PiSnap,
  RefundSnap,
  ReviewSnap,
} from "../../domain/transaction.ts";
import { boundStripeText } from "../../domain/stripe_text.ts";

/** Stripe fields that may come expanded (an object) or not (an id). */
export function idOf(value: string | { id: string } | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === "string" ? value : value.id;
}

const PI_TERMINAL = new Set(["succeeded", "canceled"]);
const PI_PHASE: Record<string, number> = {
  requires_payment_method: 0,
  requires_confirmation: 1,
  requires_action: 2,
  processing: 3,
  requires_capture: 4,
};
/** A declined attempt ends the attempt it belongs to, so within one second it comes last. */
const PI_FAILED_PHASE = 5;

export function isPiTerminal(status: string): boolean {
  return PI_TERMINAL.has(status);
}

/** An attempt that was declined: back to requires_payment_method, with the error kept. */
export function isPiFailure(pi: Pick<PiSnap, "status" | "error">): boolean {
  return pi.status === "requires_payment_method" && pi.error !== null;
}

/**
 * PaymentIntent order. A terminal state (succeeded, canceled) is final whatever
 * its time. Before that, a newer event wins even when its status looks earlier:
 * a declined attempt followed by a retry legitimately goes back from
 * `processing` to `requires_payment_method` and forward again. Within one
 * second the phase of the attempt decides (see `piAmbiguous` for the one case
 * it cannot).
 */
export function piOrder(status: string, hasError: boolean, at: number): number[] {
  if (PI_TERMINAL.has(status)) return [1, at, 0];
  const phase = status === "requires_payment_method" && hasError
    ? PI_FAILED_PHASE
    : PI_PHASE[status] ?? 0;
  return [0, at, phase];
}

/** Type, brand, last4 and fingerprint, for cards and the other types that have them. */
export function paymentMethodSummary(
  type: string | null | undefined,
  details: unknown,
): PaymentMethodSummary | null {
  if (!type) return null;
  const d = (details ?? {}) as { brand?: unknown; last4?: unknown; fingerprint?: unknown };
  const str = (v: unknown) => typeof v === "string" ? boundStripeText(v) : null;
  return {
    type: boundStripeText(type),
    brand: str(d.brand),
    last4: str(d.last4),
    fingerprint: str(d.fingerprint),
  };
}

function pmFromObject(pm: Stripe.PaymentMethod | string | null | undefined) {
  if (!pm || typeof pm === "string") return null;
  return paymentMethodSummary(pm.type, (pm as unknown as Record<string, unknown>)[pm.type]);
}

function errorSummary(e: Stripe.PaymentIntent.LastPaymentError | null): PaymentErrorSummary | null {
  if (!e) return null;
  return {
    code: boundStripeText(e.code),
    decline_code: boundStripeText(e.decline_code),
    advice_code: boundStripeText((e as { advice_code?: string | null }).advice_code),
    message: boundStripeText(e.message),
    charge: e.charge ?? null,
    payment_method: pmFromObject(e.payment_method),
    payment_method_id: idOf(e.payment_method),
  };
}

/**
 * The charges a PaymentIntent lists in API versions before 2022-11-15
 * (`charges`, a list object, newest first), which also have no
 * `latest_charge`; today's shape lists none.
 */
export function listedCharges(pi: Stripe.PaymentIntent): Stripe.Charge[] {
  const listed = (pi as unknown as { charges?: { data?: unknown } }).charges?.data;
  return Array.isArray(listed) ? listed as Stripe.Charge[] : [];
}

/** `latest_charge`, or in the older shape the newest charge it lists. */
export function latestChargeOf(pi: Stripe.PaymentIntent): string | null {
  const latest = idOf(pi.latest_charge);
  if (latest) return latest;
  let newest: Stripe.Charge | null = null;
  for (const ch of listedCharges(pi)) if (!newest || ch.created > newest.created) newest = ch;
  return newest?.id ?? null;
}

/** `readAt`: the snapshot is a read from the API (merge.ts `placeRead`). */
export function piSnap(pi: Stripe.PaymentIntent, at: number, readAt?: number): PiSnap {
  const error = errorSummary(pi.last_payment_error);
  return {
    id: pi.id,
    status: pi.status,
    error: pi.status === "requires_payment_method" ? error : null,
    latest_charge: latestChargeOf(pi),
    payment_method: idOf(pi.payment_method),
    amount: pi.amount,
    amount_received: pi.amount_received ?? 0,
    amount_capturable: pi.amount_capturable ?? 0,
    currency: pi.currency,
    customer: idOf(pi.customer),
    description: boundStripeText(pi.description),
    created: pi.created,
    order: piOrder(pi.status, pi.status === "requires_payment_method" && error !== null, at),
    ...(readAt === undefined ? {} : { read_at: readAt }),
  };
}

/**
 * The charge's lattice: pending < authorized (succeeded, not captured) <
 * captured | failed. A capture is never undone, so a `charge.succeeded`
 * (captured: false) that arrives after `charge.captured` of the same second
 * stays behind it.
 */
function chargeRank(ch: Pick<Stripe.Charge, "status" | "captured">): number {
  if (ch.status === "pending") return 0;
  if (ch.status === "succeeded" && !ch.captured) return 1;
  return 2;
}

/** Radar's own blocks (its risk rules, or a custom rule), which the card error reports as `fraudulent`. */
const RADAR_BLOCKS = new Set(["highest_risk_level", "elevated_risk_level", "rule"]);

/**
 * Declines as Stripe reports them on the card error: the issuer's code, and
 * `fraudulent` only for Radar's blocks. Stripe blocks charges for other
 * reasons too (a card it locked after too many declines,
 * `card_decline_rate_limit_exceeded`), which are no fraud decline: no code.
 */
function chargeDeclineCode(ch: Stripe.Charge): string | null {
  if (ch.status !== "failed" || !ch.outcome) return null;
  if (ch.outcome.type === "blocked") {
    return RADAR_BLOCKS.has(ch.outcome.reason ?? "") ? "fraudulent" : null;
  }
  return ch.outcome.reason ?? null;
}

export function chargeSnap(ch: Stripe.Charge, at: number): ChargeSnap {
  const pmd = ch.payment_method_details;
  const failed = ch.status === "failed";
  return {
    id: ch.id,
    payment_intent: idOf(ch.payment_intent),
    status: ch.status,
    captured: ch.captured,
    amount: ch.amount,
    amount_captured: ch.amount_captured ?? (ch.captured ? ch.amount : 0),
    amount_refunded: ch.amount_refunded ?? 0,
    currency: ch.currency,
    customer: idOf(ch.customer),
    description: boundStripeText(ch.description),
    created: ch.created,
    payment_method: pmd
      ? paymentMethodSummary(pmd.type, (pmd as unknown as Record<string, unknown>)[pmd.type])
      : null,
    failure_code: boundStripeText(ch.failure_code),
    decline_code: boundStripeText(chargeDeclineCode(ch)),
    advice_code: failed ? boundStripeText(ch.outcome?.advice_code) : null,
    failure_message: boundStripeText(ch.failure_message),
    risk_level: ch.outcome?.risk_level ?? null,
    risk_score: ch.outcome?.risk_score ?? null,
    // Within one second a charge.refunded (more refunded) follows the charge.succeeded.
    order: [chargeRank(ch), at, ch.amount_refunded ?? 0],
  };
}

/** pending/requires_action < succeeded < failed|canceled: a refund can fail after succeeding. */
const REFUND_RANK: Record<string, number> = {
  pending: 0,
  requires_action: 0,
  succeeded: 1,
  failed: 2,
  canceled: 2,
};

/** Refund statuses that Stripe counts in the charge's `amount_refunded`. */
export function refundCounts(status: string): boolean {
  return status === "pending" || status === "requires_action" || status === "succeeded";
}

export function refundSnap(re: Stripe.Refund, at: number): RefundSnap {
  const status = re.status ?? "pending";
  return {
    id: re.id,
    charge: idOf(re.charge),
    amount: re.amount,
    currency: re.currency,
    status,
    refund_id: boundStripeText(re.metadata?.refund_id),
    reason: boundStripeText(re.reason) as RefundSnap["reason"],
    failure_reason: boundStripeText(re.failure_reason),
    created: re.created,
    order: [REFUND_RANK[status] ?? 0, at],
  };
}

export { disputeSnap, disputeTook } from "./dispute_snap.ts";

export function efwSnap(w: Stripe.Radar.EarlyFraudWarning, at: number): EfwSnap {
  // `actionable` only ever turns false (once refunded or disputed).
  return {
    id: w.id,
    fraud_type: boundStripeText(w.fraud_type),
    actionable: w.actionable,
    created: w.created,
    order: [w.actionable ? 0 : 1, at],
  };
}

export function reviewSnap(r: Stripe.Review, at: number): ReviewSnap {
  return {
    id: r.id,
    open: r.open,
    reason: boundStripeText(r.reason),
    opened_reason: boundStripeText(r.opened_reason),
    closed_reason: boundStripeText(r.closed_reason),
    created: r.created,
    order: [r.open ? 0 : 1, at],
  };
}
