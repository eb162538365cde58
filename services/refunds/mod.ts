/** The refunds domain's face: what the rest of the service may use of it. */
export {
  createRefundMerge,
  createRefundService,
  createRefundSettlement,
  reconcileRefunds,
  REFUND_REASONS,
  REFUND_STATUSES,
  refundJobHandlers,
} from "./service.ts";
export type { RefundResult } from "./service.ts";
