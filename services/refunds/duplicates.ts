/**
 * Suspected duplicates: the same requester asking again for the same amount on
 * the same transaction within a few minutes is refused until they confirm it.
 */
import { AppError } from "../../core/errors.ts";
import { formatMoney } from "../../domain/money.ts";
import type { RefundRecord } from "../../domain/refund.ts";
import { isReleased } from "./policy.ts";

/** the same requester asking again for the same amount within this window is a suspected duplicate */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

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
