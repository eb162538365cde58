/**
 * Ops alerts about refunds (services/ops_alerts.ts `raiseOpsAlert`): money that
 * was owed and did not move. The settlement raises one when a refund fails
 * after Stripe accepted it; a release (release.ts) when it is told to.
 */
import type { AuditInput } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { Logger } from "../../core/log.ts";
import type { RefundRecord } from "../../domain/refund.ts";
import type { OpsAlert } from "../../kv/ops_alerts.ts";
import { raiseOpsAlert } from "../ops_alerts.ts";

/** What raising an alert works with. */
export interface AlertParts {
  newId: IdFactory;
  log: Logger;
}

/** An ops alert about a refund (services/ops_alerts.ts `raiseOpsAlert`). */
export function addRefundAlert(
  op: Deno.AtomicOperation,
  svc: AlertParts,
  refund: RefundRecord,
  kind: OpsAlert["kind"],
  detail: string,
): AuditInput {
  return raiseOpsAlert(
    op,
    svc,
    {
      kind,
      detail,
      refund_id: refund.id,
      transaction_id: refund.transaction_id,
      stripe_refund: refund.stripe_refund,
      amount: refund.amount,
      currency: refund.currency,
    },
    refund.updated_at,
    { type: "refund", id: refund.id },
  );
}

/**
 * A refund that failed after Stripe accepted it (`refund_failed_after_success`):
 * the customer has not received the money. `seen` says how it was accepted when
 * `before` does not (a refund first seen failed).
 */
export function addFailedAfterSuccessAlert(
  op: Deno.AtomicOperation,
  svc: AlertParts,
  before: RefundRecord,
  after: RefundRecord,
  seen?: string,
): AuditInput {
  const was = seen ??
    (before.status === "processing"
      ? "accepted at Stripe (its answer never reached us)"
      : `${before.status} at Stripe`);
  const detail = `refund ${after.id} (${after.stripe_refund}) was ${was}, ` +
    `then ${after.status} (${after.failure_reason ?? "no reason given"}): the customer has not ` +
    "received the money; the ledger was reversed; contact the customer or refund another way";
  return addRefundAlert(op, svc, after, "refund_failed_after_success", detail);
}
