/** The audit domain's face: what the rest of the service may use of it. */
export { EXPORT_CONTENT_TYPES } from "./export.ts";
export { checkpointAuditHead, createAuditService } from "./service.ts";
export type { AuditFilters, AuditInput, AuditService } from "./service.ts";
