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
export { refundApprovalSource } from "./approval_source.ts";
