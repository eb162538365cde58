/** The refunds domain's face: what the rest of the service may use of it. */
export {
  createRefundService,
  createRefundSettlement,
  reconcileRefunds,
  REFUND_REASONS,
  REFUND_STATUSES,
  refundJobHandlers,
} from "./service.ts";
export type { RefundResult } from "./service.ts";
/** The timing of the exactly-once pattern, reused by dispute submissions. */
export { SAME_KEY_WINDOW_MS } from "./reconcile.ts";
export { RECONCILE_AFTER_MS } from "./requests.ts";
export { refundApprovalSource } from "./approval_source.ts";
