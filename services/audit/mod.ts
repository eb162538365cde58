/**
 * Audit: the append-only, hash-chained log of every admin action and every
 * system change to money or case state. Services hand their entries to
 * `audit.commit` so the entry lands in the same atomic commit as the change;
 * reads, filtered queries, exports, chain verification and signed checkpoints.
 */
export { EXPORT_CONTENT_TYPES } from "./export.ts";
export { checkTimeRange, TIME_RANGE_MESSAGE } from "./query.ts";
export { CHECKPOINT_TASK, checkpointAuditHead, createAuditService } from "./service.ts";
export type { AuditFilters, AuditInput, AuditService } from "./service.ts";
export { VERIFY_RETRY_AFTER_S, VERIFY_WAIT_MS, type VerifyGateOptions } from "./verify_gate.ts";
