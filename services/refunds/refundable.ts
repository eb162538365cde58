/**
 * What may be refunded: the refundable amount (captured, less what is refunded,
 * in flight and held by disputes), the transactions that cannot be refunded at
 * all (an authorization, an open chargeback), and the request's own fields.
 * Pure checks on values already read; the refund service runs them inside its
 * checked commit so they hold at the moment the reservation is made.
 */
import { AppError, validationFailed } from "../../core/errors.ts";
import type { Transaction } from "../../domain/transaction.ts";
import { formatMoney, minorUnitProblem } from "../../domain/money.ts";
import { REFUND_REASONS } from "../../domain/refund.ts";

/**
 * Chargebacks still being decided: the dispute holds the funds. An inquiry
 * (`warning_*`) takes nothing and Stripe leaves the charge refundable;
 * refunding is a usual way to end one.
 */
const OPEN_DISPUTE = new Set([
  "needs_response",
  "under_review",
]);

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
