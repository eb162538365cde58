/**
 * What may be refunded, and who must agree: the refundable amount, open
 * disputes, suspected duplicates, the approval threshold and the operators'
 * daily caps. Pure checks on values already read; the refund service runs them
 * inside its checked commit so they hold at the moment the reservation is made.
 */
import { AppError, validationFailed } from "../../core/errors.ts";
import type { Transaction } from "../../domain/transaction.ts";
import { sha256Hex } from "../../core/encoding.ts";
import { formatMoney, minorUnitProblem } from "../../domain/money.ts";
import {
  REFUND_REASONS,
  type RefundReason,
  type RefundRecord,
  type RefundStatus,
} from "../../domain/refund.ts";

/** the same requester asking again for the same amount within this window is a suspected duplicate */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;
/** an approval request expires (and releases its reservation) after this */
export const APPROVAL_TTL_MS = 24 * 3600_000;

/**
 * Chargebacks still being decided: the dispute holds the funds. An inquiry
 * (`warning_*`) takes nothing and Stripe leaves the charge refundable;
 * refunding is a usual way to end one.
 */
const OPEN_DISPUTE = new Set([
  "needs_response",
  "under_review",
]);

/** Statuses whose amount is no longer owed to the customer by this refund. */
const RELEASED: ReadonlySet<RefundStatus> = new Set(["failed", "canceled", "rejected", "expired"]);

export function isReleased(status: RefundStatus): boolean {
  return RELEASED.has(status);
}

/**
 * What can still be refunded: captured − refunded − reserved − held by
 * disputes. Only a captured amount can be refunded (a partial capture
 * released the rest); a record written before `amount_captured` was kept
 * falls back to its amount.
 */
export function refundableOf(txn: Transaction, ownReservation = 0): number {
  const captured = txn.amount_captured ?? txn.amount;
  return Math.max(
    0,
    captured - txn.amount_refunded - (txn.amount_reserved - ownReservation) - txn.amount_disputed,
  );
}

/** Refuses a transaction that cannot be refunded at all, saying why. */
export function assertRefundableTransaction(txn: Transaction): void {
  if (txn.status === "requires_capture") {
    // nothing was charged: the authorization is released, not refunded
    const instead = txn.stripe_payment_intent
      ? `release it with POST /api/admin/payments/transactions/${txn.id}/cancel (or capture ` +
        "it first with .../capture and refund what was captured)"
      : "it is a charge made without a PaymentIntent, which this service can neither capture " +
        "nor cancel: capture or release it in the Stripe Dashboard (Stripe releases an " +
        "uncaptured card charge by itself after 7 days)";
    throw new AppError(
      "conflict",
      `transaction ${txn.id} is an authorization not captured yet (requires_capture): nothing ` +
        `was charged, so there is nothing to refund; ${instead}`,
      { extra: { transaction_status: txn.status } },
    );
  }
  if (txn.status !== "succeeded") {
    throw new AppError(
      "conflict",
      `transaction ${txn.id} is ${txn.status}; only a succeeded payment can be refunded`,
      { extra: { transaction_status: txn.status } },
    );
  }
  if (txn.dispute_status && OPEN_DISPUTE.has(txn.dispute_status)) {
    throw new AppError(
      "conflict",
      `transaction ${txn.id} has an open dispute (${txn.dispute_status}): the dispute already ` +
        "holds the funds, so a refund now could pay the customer twice; respond to or accept " +
        "the dispute instead",
      { extra: { dispute_status: txn.dispute_status } },
    );
  }
}

/**
 * The amount to refund: the one asked for, or everything left; refused beyond
 * what is left. `field` names the amount sent (`body.amount`), or null when
 * none was (everything left, or a refund already recorded being approved).
 * `ownReservation`: what the refund being approved holds itself, not shown as
 * "in flight" beside it.
 */
export function resolveAmount(
  txn: Transaction,
  requested: number | undefined,
  refundable: number,
  field: string | null,
  ownReservation = 0,
): number {
  const amount = requested ?? refundable;
  const money = (minor: number) => formatMoney(minor, txn.currency);
  if (amount > refundable || amount <= 0) {
    throw new AppError(
      "amount_exceeds_refundable",
      refundable === 0
        ? `nothing is left to refund on ${txn.id} (captured ${
          money(txn.amount_captured ?? txn.amount)
        }, refunded ` +
          `${money(txn.amount_refunded)}, in flight ${
            money(txn.amount_reserved - ownReservation)
          }, disputed ${money(txn.amount_disputed)})`
        : `amount ${amount} (${money(amount)}) exceeds what is refundable on ${txn.id}: ` +
          `${refundable} (${money(refundable)}) left`,
      {
        ...(field
          ? {
            errors: [{
              path: field,
              message: `at most ${refundable} (${money(refundable)}) can be refunded`,
            }],
          }
          : {}),
        extra: { refundable, currency: txn.currency },
      },
    );
  }
  return amount;
}

/** Field checks a caller outside HTTP (the fraud flow) gets too; routes check the same by schema. */
export function assertValidInput(input: {
  transaction_id: string;
  amount?: number;
  currency?: string;
  reason: string;
  note: string;
}, txn?: Transaction): void {
  const errors = [];
  if (!(REFUND_REASONS as readonly string[]).includes(input.reason)) {
    errors.push({ path: "body.reason", message: `must be one of ${REFUND_REASONS.join(", ")}` });
  }
  if (input.amount !== undefined) {
    if (!Number.isSafeInteger(input.amount)) {
      errors.push({ path: "body.amount", message: "must be a whole number of minor units" });
    } else if (input.amount < 1) {
      errors.push({ path: "body.amount", message: "must be at least 1" });
    }
  }
  const note = typeof input.note === "string" ? input.note.trim() : "";
  if (note.length < 1 || note.length > 500) {
    errors.push({ path: "body.note", message: "a note of 1 to 500 characters is required" });
  }
  const unitProblem = txn && Number.isSafeInteger(input.amount) && input.amount! >= 1 &&
      txn.currency
    ? minorUnitProblem(input.amount!, txn.currency)
    : null;
  if (unitProblem) errors.push({ path: "body.amount", message: unitProblem });
  if (txn && input.currency !== undefined && input.currency.toLowerCase() !== txn.currency) {
    errors.push({
      path: "body.currency",
      message: `the transaction is in ${txn.currency}; a refund is in the payment's currency`,
    });
  }
  if (errors.length) throw validationFailed(errors);
}

/** What the duplicate check reads of an earlier refund (a record, or a requester index row). */
export type EarlierRefund =
  & Pick<
    RefundRecord,
    "id" | "transaction_id" | "amount" | "currency" | "status" | "created_at"
  >
  & { requested_by?: string };

/**
 * A refund by the same requester for the same amount on the same transaction,
 * not long ago (`existing` without `requested_by` are the requester's own rows).
 */
export function findSuspectedDuplicate<R extends EarlierRefund>(
  existing: R[],
  requester: string,
  amount: number,
  now: number,
): R | null {
  return existing.find((r) =>
    (r.requested_by ?? requester) === requester && r.amount === amount && !isReleased(r.status) &&
    now - Date.parse(r.created_at) < DUPLICATE_WINDOW_MS
  ) ?? null;
}

export function duplicateSuspected(previous: EarlierRefund): AppError {
  const fix = '"confirm_duplicate": true to refund again (a new Idempotency-Key is not a ' +
    "confirmation)";
  return new AppError(
    "duplicate_suspected",
    `you asked for the same refund (${formatMoney(previous.amount, previous.currency)}) on ` +
      `${previous.transaction_id} at ${previous.created_at} (${previous.id}); send ${fix}`,
    {
      extra: { duplicate_of: previous.id },
      errors: [{ path: "body.confirm_duplicate", message: `same as ${previous.id}: send ${fix}` }],
    },
  );
}

/** The window over which one operator's refunds add up (threshold and daily cap). */
export const POLICY_WINDOW_MS = 24 * 3600_000;

/** One of the operator's refunds in the window, as the policy sees it. */
export interface PriorRefund {
  transaction_id: string;
  customer: string | null;
  /** the fingerprint of the card the payment was made with (null: none known) */
  card: string | null;
  amount: number;
  currency: string;
  status: RefundStatus;
}

/**
 * Why a second person must approve (README, "Refund approval policy"). The
 * threshold counts this refund plus the same operator's other refunds on the
 * same payment, the same customer or the same card in the window, so
 * splitting one refund into several (several payments of one payer, guest
 * payments with one card) does not get under it; the cap counts all of the operator's
 * refunds in the currency. Released refunds (rejected, failed, …) count for
 * nothing. `threshold` and `cap` are the currency's.
 */
export function approvalReasons(
  refund: PolicyRefund,
  prior: PriorRefund[],
  limits: { threshold: number; cap: number },
): string[] {
  return approvalDecision(refund, prior, limits).reasons;
}

/** The refund the policy judges. */
export interface PolicyRefund {
  amount: number;
  currency: string;
  transaction_id: string;
  customer: string | null;
  card: string | null;
}

/**
 * The reasons, and the sums behind them in words (`approval.detail`), so that a small
 * refund held because of the requester's earlier ones says so.
 */
export function approvalDecision(
  refund: PolicyRefund,
  prior: PriorRefund[],
  limits: { threshold: number; cap: number },
): { reasons: string[]; detail: string | null } {
  const live = prior.filter((p) => p.currency === refund.currency && !isReleased(p.status));
  const related = live.filter((p) =>
    p.transaction_id === refund.transaction_id ||
    (refund.customer !== null && p.customer === refund.customer) ||
    (refund.card !== null && p.card === refund.card)
  );
  const sum = (list: PriorRefund[]) => list.reduce((n, p) => n + p.amount, 0);
  const money = (minor: number) => formatMoney(minor, refund.currency);
  const added = (others: number, what: string) =>
    others === 0
      ? `${money(refund.amount)}`
      : `${money(refund.amount)} with the requester's other ${what} (${money(others)}) is ` +
        money(refund.amount + others);
  const reasons: string[] = [];
  const details: string[] = [];
  const relatedSum = sum(related);
  if (refund.amount + relatedSum >= limits.threshold) {
    reasons.push("threshold");
    details.push(
      `threshold: ${
        added(relatedSum, "refunds of 24 h on this payment, its customer or its card")
      }, at or above ${money(limits.threshold)}`,
    );
  }
  const liveSum = sum(live);
  if (refund.amount + liveSum > limits.cap) {
    reasons.push("daily_cap");
    details.push(
      `daily cap: ${added(liveSum, `${refund.currency.toUpperCase()} refunds of 24 h`)}, above ${
        money(limits.cap)
      }`,
    );
  }
  return { reasons, detail: details.length ? details.join("; ") : null };
}

/** UTC calendar day (`2026-11-26`) of a time, for the daily caps. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** What an approval approves: transaction, amount, currency and reason, hashed. */
export function approvalHash(r: {
  transaction_id: string;
  amount: number;
  currency: string;
  reason: RefundReason | null;
}): Promise<string> {
  return Promise.resolve(
    sha256Hex(JSON.stringify([r.transaction_id, r.amount, r.currency, r.reason])),
  );
}
