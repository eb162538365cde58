/**
 * Ingest: applies Stripe objects (payments, charges, refunds, disputes, fraud
 * signals, customers) to the local picture: one transaction per payment from
 * the newest snapshot of each object, the customer's ledger and counters, in
 * any delivery order. Webhooks and backfill feed it; group commits batch it.
 */
export { emptyAggregates } from "./aggregates.ts";
export { aggregatesView } from "./aggregates_view.ts";
export { createStripeEventApplier } from "./applier.ts";
export type { ApplyOptions, ApplyResult, CommitHook } from "./applier.ts";
export { applyToTransaction } from "./apply.ts";
export type {
  DisputeChangeHook,
  PaymentSettlementHook,
  RefundSettlementHook,
  StripeRequestRef,
} from "./apply.ts";
export { auditedCommitter, NoChange, noChange } from "./commit.ts";
export type { CommitOptions, CommitResult, EventCommitter } from "./commit.ts";
export { applyCustomer, applyPaymentMethodAttached, emptyCustomer } from "./customers.ts";
export type { CustomerApplyInput } from "./customers.ts";
export { compareOrder, placeRead } from "./merge.ts";
export { withDisputeReadBack } from "./dispute_read_back.ts";
export {
  chargeSnap,
  disputeSnap,
  idOf,
  paymentMethodSummary,
  piSnap,
  refundSnap,
} from "./snapshots.ts";
export type { Observation } from "./merge.ts";
export type { TransactionMergeHook } from "./stub_merge.ts";
