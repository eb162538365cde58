/**
 * Histories of what a two-person request acts on (README, "Two-person rules"):
 * a kind registers `history` (types.ts `KindRegistration`) so each step of
 * its requests is audited on that thing too, beside the queue's own entry on
 * the `apr_…` request, as a refund's decisions target the refund.
 */
import type { AuditInput } from "../audit/mod.ts";
import type { ApprovalRequest } from "../../domain/approval.ts";

/** What a request acts on, or null when it names none. */
export type HistoryTarget = (request: ApprovalRequest) => { type: string; id: string } | null;

/**
 * A `history` mapping the queue's `approval.<step>` entry to `<prefix><step>` on
 * `targetOf(request)`, naming the request (`after.approval_id`, `after.kind`):
 * `request`, `approve`, `reject` (a withdrawal too), `expire`, and a failed
 * `execute` (an executed one writes its own entry on the target), denied ones too.
 */
export function historyOn(
  prefix: string,
  targetOf: HistoryTarget,
): (request: ApprovalRequest, entry: AuditInput) => AuditInput | null {
  return (request, entry) => {
    const target = targetOf(request);
    const step = entry.action.replace(/^approval\./, "");
    if (!target || step === entry.action) return null;
    if (step === "execute" && entry.result === "ok") return null;
    const after = entry.after && typeof entry.after === "object" ? entry.after : {};
    return {
      action: `${prefix}${step}`,
      target,
      result: entry.result,
      after: { approval_id: request.id, kind: request.kind, ...after },
      reason: entry.reason ?? null,
    };
  };
}

/** `entry`, and the entry `history` (a kind's) adds about `request` in what it acts on, if any. */
export function withHistory(
  history: ((request: ApprovalRequest, entry: AuditInput) => AuditInput | null) | undefined,
  request: ApprovalRequest,
  entry: AuditInput,
): AuditInput[] {
  const inHistory = history?.(request, entry) ?? null;
  return inHistory ? [entry, inHistory] : [entry];
}

/** `payload[field]` as the id of a `type` record, or null (a request made before it named one). */
export function payloadTarget(type: string, field: string): HistoryTarget {
  return (request) => {
    const id = request.payload[field];
    return typeof id === "string" && id !== "" ? { type, id } : null;
  };
}
