/**
 * Refunds: request, approve or reject, send to Stripe exactly once (the record
 * and its reservation are committed before the call), settle from the answer
 * or a webhook, and reconcile what stayed in flight.
 */
export {
  createRefundMerge,
  createRefundService,
  createRefundSettlement,
  isUndecided,
  reconcileRefunds,
  REFUND_REASONS,
  REFUND_STATUSES,
  refundJobHandlers,
} from "./service.ts";
export type { RefundHooks, RefundResult } from "./service.ts";
/** The timing of the exactly-once pattern, reused by dispute submissions. */
export { SAME_KEY_WINDOW_MS } from "./reconcile.ts";
export { RECONCILE_AFTER_MS } from "./requests.ts";
export { REFUND_RECONCILE_JOB } from "./request_parts.ts";
export { refundApprovalSource } from "./approval_source.ts";
export { approvalHashRequired } from "./decisions.ts";
