/** The disputes domain's face: what the rest of the service may use of it. */
export { createDisputeService, disputeJobHandlers, runDisputeReminders } from "./service.ts";
export type { DisputeQuery, DisputeService } from "./service.ts";
export { createDisputeChangeHook } from "./ingest.ts";
export { inAcceptHistory } from "./accept_history.ts";
export { createDisputeMerge } from "./merge.ts";
export { DISPUTE_SUBMIT_RECONCILE_JOB } from "./submit.ts";
export { DISPUTE_CLOSE_RECONCILE_JOB } from "./close.ts";
export { REMINDER_THRESHOLDS } from "./reminders.ts";
export type { DisputeDetail, DisputeView } from "./views.ts";
export type { SyncSummary } from "./sync.ts";
export { draftTag } from "./draft_precondition.ts";
export { checkDraft } from "./evidence_rules.ts";
export { filePartErrors } from "./files.ts";
export { DISPUTE_PHASES, DISPUTE_STATUSES } from "../../domain/dispute.ts";
