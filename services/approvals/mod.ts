/** The approvals domain's face: one queue for every two-person request. */
export { createApprovalService } from "./service.ts";
export type {
  ApprovalExecutor,
  ApprovalService,
  ApprovalSource,
  DecisionBody,
  DecisionResult,
  KindRegistration,
  RequestOptions,
} from "./service.ts";
export {
  approvalHashOf,
  linkRefusal,
  linksOf,
  type RequesterNeeds,
  requesterRefusal,
  requesterVoid,
  requesterVoidError,
} from "./rules.ts";
export type { Refusal } from "./rules.ts";
export { historyOn, type HistoryTarget, payloadTarget } from "./history.ts";
export {
  APPROVAL_POLICY,
  APPROVAL_STATUSES,
  type ApprovalKind,
  type ApprovalRequest,
  type ApprovalStatus,
  APPROVING_ROLES,
} from "../../domain/approval.ts";
