/**
 * Which payments may be retried: the payment-wide checks made before anything
 * is sent to Stripe, the declines seen so far, and a refusal as a problem.
 */
import { AppError } from "../../core/errors.ts";
import { CARD_RATE_LIMIT_CODE, type PriorDecline, type RetryVerdict } from "../../domain/retry.ts";
import { type Transaction, type TxnSync, unknownTransaction } from "../../domain/transaction.ts";
import { type RetryRecord } from "../../kv/retries.ts";

const conflicts = new WeakSet<AppError>();

/** A 409 of the retry's own checks (not retryable, another attempt in flight): a refusal. */
export function retryConflict(error: AppError): AppError {
  conflicts.add(error);
  return error;
}

/** Whether `error` is a refusal by the retry's checks (README: refusals are audited as denied). */
export function isRetryRefusal(error: unknown): error is AppError {
  return error instanceof AppError &&
    (error.code === "retry_refused" || conflicts.has(error));
}

export interface Retryable {
  txn: Transaction;
  sync: TxnSync;
  customer: string;
  pi: string;
}

/** Stripe sends a decline's charge.failed and payment_intent.payment_failed moments apart. */
const ARRIVING_RETRY_AFTER_S = 2;

/**
 * A declined charge the PaymentIntent as last seen does not know of (nor any
 * PaymentIntent seen yet): the PaymentIntent's own update about it is still
 * on its way.
 */
function declineArriving(sync: TxnSync | null): string | null {
  const pi = sync?.pi ?? null;
  if (!sync || pi?.status === "succeeded" || pi?.status === "canceled") return null;
  const seenAt = pi ? pi.read_at ?? pi.order[1] : 0;
  const newer = Object.values(sync.charges).filter((c) =>
    c.status === "failed" && c.id !== pi?.error?.charge && c.id !== pi?.latest_charge &&
    c.created >= seenAt
  );
  return newer.sort((a, b) => b.created - a.created)[0]?.id ?? null;
}

/** 404 / 409 unless the transaction is a PaymentIntent waiting for a new payment method. */
export function assertRetryable(
  id: string,
  txn: Transaction | null,
  sync: TxnSync | null,
): Retryable {
  // README "API": the 404 names the field, as a refund's does
  if (!txn) throw unknownTransaction(id, "body.transaction_id");
  if (!txn.stripe_payment_intent) {
    throw retryConflict(
      new AppError(
        "conflict",
        `transaction ${id} is a Charge made without a PaymentIntent: a Charge cannot be retried; ` +
          "ask the customer to pay again through your checkout (a new PaymentIntent)",
        { extra: { transaction_status: txn.status, object: "charge" } },
      ),
    );
  }
  const status = sync?.pi?.status ?? "unknown";
  const arriving = status === "requires_payment_method" ? null : declineArriving(sync);
  if (arriving) {
    throw retryConflict(
      new AppError(
        "conflict",
        `transaction ${id}'s latest state is still arriving from Stripe: its declined charge ` +
          `${arriving} is recorded, the PaymentIntent's own update not yet (last seen ` +
          `${status}); retry in a moment`,
        {
          extra: { payment_intent_status: status, transaction_status: txn.status },
          retryAfter: ARRIVING_RETRY_AFTER_S,
        },
      ),
    );
  }
  if (status !== "requires_payment_method" || !sync) {
    throw retryConflict(notRetryable(id, status, { transaction_status: txn.status }));
  }
  if (!txn.customer) {
    throw retryConflict(
      new AppError(
        "conflict",
        `transaction ${id} has no customer: a retry charges a payment method saved on the ` +
          "payment's customer; ask the customer to pay again through your checkout",
        { extra: { payment_intent_status: status } },
      ),
    );
  }
  return { txn, sync, customer: txn.customer, pi: txn.stripe_payment_intent };
}

/**
 * The 409 for a PaymentIntent in `status`, not a failed payment (README "Which
 * payments"); `atStripe`: the status was read from Stripe just now, newer than
 * what this service had seen.
 */
export function notRetryable(
  id: string,
  status: string,
  extra: Record<string, unknown>,
  atStripe = false,
): AppError {
  const where = atStripe
    ? " at Stripe (read just now: its news had not reached this service yet; the transaction " +
      "now shows it)"
    : "";
  return new AppError(
    "conflict",
    `transaction ${id}'s PaymentIntent is ${status}${where}; only a PaymentIntent in ` +
      `requires_payment_method (a failed payment) can be retried${nextFor(id, status)}`,
    { extra: { payment_intent_status: status, ...extra } },
  );
}

/** What to do instead, for a PaymentIntent that is not a failed payment (README "Retrying failed payments"). */
function nextFor(id: string, status: string): string {
  switch (status) {
    case "requires_action":
      return ": an attempt is waiting for the customer to authenticate (GET " +
        `/api/admin/payments/retries?transaction_id=${id} shows it, with its client_secret); ` +
        "retry once it has failed";
    case "requires_capture":
      return ": it is authorized, not charged; capture or cancel it " +
        `(POST /api/admin/payments/transactions/${id}/capture or /cancel)`;
    case "processing":
      return ": Stripe has not answered yet; the webhook settles it, then retry if it failed";
    case "succeeded":
      return ": it is paid; nothing to retry";
    case "canceled":
      return ": it was canceled; nothing to retry (the customer pays anew through your checkout)";
    default:
      return "";
  }
}

/** Every decline seen on this payment: its charges, and attempts Stripe refused without one. */
export function priorDeclines(sync: TxnSync, retries: RetryRecord[]): PriorDecline[] {
  const out: PriorDecline[] = [];
  const charges = new Set<string>();
  for (const c of Object.values(sync.charges)) {
    if (c.status !== "failed") continue;
    charges.add(c.id);
    out.push({
      at: c.created * 1000,
      fingerprint: c.payment_method?.fingerprint ?? null,
      code: c.failure_code,
      // Stripe's own lock shows as a blocked charge, which is not the issuer's fraud decline.
      decline_code: c.failure_code === CARD_RATE_LIMIT_CODE ? null : c.decline_code,
      advice_code: c.advice_code,
    });
  }
  for (const r of retries) {
    if (r.status !== "failed" || (r.stripe_charge && charges.has(r.stripe_charge))) continue;
    // Stripe did not act on it (a "try again", a refused request): no decline of the card
    if (r.counted === false) continue;
    if (!r.failure_code && !r.decline_code) continue;
    out.push({
      at: Date.parse(r.settled_at ?? r.updated_at),
      fingerprint: r.card?.fingerprint ?? null,
      code: r.failure_code,
      decline_code: r.decline_code,
      advice_code: r.advice_code,
    });
  }
  return out.sort((a, b) => a.at - b.at);
}

export function refusal(verdict: Exclude<RetryVerdict, { ok: true }>): AppError {
  return new AppError("retry_refused", verdict.detail, {
    extra: { reason: verdict.reason, retry_after: verdict.retry_after },
    ...(verdict.errors ? { errors: verdict.errors } : {}),
  });
}
