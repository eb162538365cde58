/**
 * The seams of the Stripe event applier: the services that keep records of
 * their own about a transaction (refunds, disputes, retry attempts) write
 * them inside the commit that records Stripe's change, through these hooks.
 */
import type Stripe from "stripe";
import type { AuditInput, AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { DisputeSnap, PiSnap, RefundSnap, Transaction } from "../../domain/transaction.ts";
import type { TransactionMergeHook } from "./stub_merge.ts";
import type { Change } from "./merge.ts";
import { needsAudit } from "./commit.ts";

/**
 * The Stripe request that brought the change: the one whose answer (or read)
 * it is, or the one a webhook's event names (`request`); null for backfill and
 * for an event that names none.
 */
export interface StripeRequestRef {
  request_id: string | null;
  idempotency_key: string | null;
}

/**
 * Seam for the refunds service. Called inside the commit that records a
 * change to a Stripe refund (first seen, status or metadata moved), for every
 * refund: one with `metadata.refund_id` settles that local record; one
 * without (made in the Stripe Dashboard) may get a local record with
 * `requested_by: "stripe_dashboard"`. Rules:
 * - add checks and mutations to `op`; never commit it, never write the transaction key;
 * - `txn` is the transaction as it will be written: the hook may change
 *   `txn.amount_reserved` (release or move a reservation), nothing else;
 * - it may run several times (a lost race reruns the whole build): no side
 *   effects outside `op`; throw to abort (the event is retried);
 * - return the audit entries for its own records: they join this commit,
 *   naming `stripeRequest` (the request that brought the change) as theirs.
 */
export type RefundSettlementHook = (
  op: Deno.AtomicOperation,
  stripeRefund: Stripe.Refund,
  txn: Transaction,
  change: { before: RefundSnap | null; after: RefundSnap },
  stripeRequest: StripeRequestRef | null,
) => Promise<AuditInput[]>;

/** The same seam for the disputes service (local dispute records), same rules. */
export type DisputeChangeHook = (
  op: Deno.AtomicOperation,
  stripeDispute: Stripe.Dispute,
  txn: Transaction,
  change: { before: DisputeSnap | null; after: DisputeSnap },
  stripeRequest: StripeRequestRef | null,
) => Promise<AuditInput[]>;

/**
 * The same seam for the retries service, for every change to the
 * PaymentIntent: an attempt recorded `processing` (or `requires_action`) on
 * this payment is settled by whichever news of its outcome comes first (the
 * confirm's answer, a webhook, reconciliation). Same rules as above; it
 * returns no entries when it has nothing to settle (the common case, which
 * then stays plain ingestion).
 */
export type PaymentSettlementHook = (
  op: Deno.AtomicOperation,
  pi: PiSnap,
  txn: Transaction,
  stripeRequest: StripeRequestRef | null,
) => Promise<AuditInput[]>;

export interface ApplierServices {
  audit: AuditService;
  newId: IdFactory;
  refundSettlement?: RefundSettlementHook;
  disputeChange?: DisputeChangeHook;
  paymentSettlement?: PaymentSettlementHook;
  /** services that keep records about a transaction move them when a stub merges */
  mergeHooks?: TransactionMergeHook[];
}

/** The refunds/disputes services settle their records and may move amount_reserved. */
export async function runChangeHooks(
  op: Deno.AtomicOperation,
  svc: ApplierServices,
  changes: Change[],
  draft: Transaction,
  meta: { audited: boolean; stripeRequest: StripeRequestRef | null; created: boolean },
): Promise<AuditInput[]> {
  const audit: AuditInput[] = [];
  for (const c of changes) {
    // A transaction this very event creates has a fresh id: no retry can be in flight on it.
    if (c.kind === "pi" && svc.paymentSettlement && !meta.created) {
      const settled = await svc.paymentSettlement(op, c.after as PiSnap, draft, meta.stripeRequest);
      // Nothing to settle is the common case and stays plain ingestion.
      if (settled.length && !meta.audited) needsAudit();
      audit.push(...settled);
    }
    if (c.kind === "refund" && svc.refundSettlement) {
      audit.push(
        ...await svc.refundSettlement(op, c.raw as Stripe.Refund, draft, {
          before: c.before as RefundSnap | null,
          after: c.after as RefundSnap,
        }, meta.stripeRequest),
      );
    }
    if (c.kind === "dispute" && svc.disputeChange) {
      audit.push(
        ...await svc.disputeChange(op, c.raw as Stripe.Dispute, draft, {
          before: c.before as DisputeSnap | null,
          after: c.after as DisputeSnap,
        }, meta.stripeRequest),
      );
    }
  }
  return audit;
}
