/**
 * Who must agree: the approval threshold and the operators' daily caps over
 * the requester's refunds of 24 h, what an approval approves (its hash), and
 * how long a request waits. Pure rules on values already read; the refund
 * service runs them inside its checked commit (what may be refunded at all:
 * refundable.ts; suspected duplicates: duplicates.ts).
 */
import { canonicalJson, sha256Hex } from "../../core/encoding.ts";
import { formatMoney } from "../../domain/money.ts";
import type { RefundRecord, RefundStatus } from "../../domain/refund.ts";

/** an approval request expires (and releases its reservation) after this */
export const APPROVAL_TTL_MS = 24 * 3600_000;

/** Statuses whose amount is no longer owed to the customer by this refund. */
const RELEASED: ReadonlySet<RefundStatus> = new Set(["failed", "canceled", "rejected", "expired"]);

export function isReleased(status: RefundStatus): boolean {
  return RELEASED.has(status);
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

/** What an approver reads of a refund and approves (README, "A first session"). */
export type ApprovedRefund = Pick<
  RefundRecord,
  | "id"
  | "transaction_id"
  | "amount"
  | "currency"
  | "reason"
  | "note"
  | "requested_by"
  | "fraud_alert_id"
  | "confirm_duplicate"
  | "approval_reasons"
  | "approval_detail"
>;

/**
 * What an approval approves: the refund itself (its id) and all an approver reads of it and
 * decides on — payment, amount, currency, reason, note, requester, the fraud alert it answers,
 * whether the requester confirmed a suspected duplicate, and why it waits — hashed, so one
 * refund's hash approves no other, however alike.
 */
export function approvalHash(r: ApprovedRefund): string {
  return sha256Hex(canonicalJson({
    refund: r.id,
    transaction_id: r.transaction_id,
    amount: r.amount,
    currency: r.currency,
    reason: r.reason,
    note: r.note,
    requested_by: r.requested_by,
    fraud_alert_id: r.fraud_alert_id,
    confirm_duplicate: r.confirm_duplicate ?? false,
    approval_reasons: r.approval_reasons,
    approval_detail: r.approval_detail ?? null,
  }));
}

/**
 * The hash's earlier form (transaction, amount, currency and reason only), which refunds asked
 * before it bound the refund itself still carry: they stay approvable by the hash they show.
 */
function earlierApprovalHash(r: ApprovedRefund): string {
  return sha256Hex(JSON.stringify([r.transaction_id, r.amount, r.currency, r.reason]));
}

/** Whether a refund is still what its stored `approval_hash` was made of (either form). */
export function matchesApprovalHash(r: ApprovedRefund & { approval_hash: string | null }): boolean {
  return r.approval_hash !== null &&
    (r.approval_hash === approvalHash(r) || r.approval_hash === earlierApprovalHash(r));
}
