/**
 * Refusals of a dispute action by the workbench's rules (already submitted,
 * past the deadline, closed, a close or a request waiting, an empty draft):
 * each is an audit entry with `result: denied` and the reason (README: the
 * audit log "records every action, denied ones too"; "Submitting once").
 * A 404, a malformed body or a lost race that is built again is no decision
 * and is not recorded.
 */
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, type ErrorCode, type FieldError } from "../../core/errors.ts";

/** A refusal by the workbench's rules (409, or 422 for an empty draft): audited when thrown. */
export class DisputeRefusal extends AppError {
  constructor(code: ErrorCode, detail: string, errors?: FieldError[]) {
    super(code, detail, errors ? { errors } : {});
  }
}

/**
 * How to read dispute `id` again when Stripe refuses an action on it (it was closed or answered
 * at Stripe behind this service's back): the fix a `stripe_error` names (README, "Dispute
 * workbench").
 */
export function resyncHint(id: string): string {
  return `pull the dispute again with POST /api/admin/payments/disputes/sync ` +
    `{"dispute_id":"${id}"}`;
}

/** The 409 for `reason`, naming the dispute. */
export function refused(id: string, reason: string): DisputeRefusal {
  return new DisputeRefusal("conflict", `dispute ${id}: ${reason}`);
}

/** Runs `action` on dispute `id`; a refusal it throws is audited `denied` before it is rethrown. */
export async function auditingRefusals<T>(
  audit: AuditService,
  ctx: CallContext,
  what: { action: string; id: string },
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof DisputeRefusal) {
      await audit.record(ctx, {
        action: what.action,
        target: { type: "dispute", id: what.id },
        result: "denied",
        reason: e.message,
        after: { code: e.code },
      });
    }
    throw e;
  }
}

/** A draft with nothing in it is not submitted: the round would be spent on nothing. */
export function emptyDraft(id: string): DisputeRefusal {
  const message = `the evidence draft of dispute ${id} holds no evidence (no field filled in, ` +
    `no file): add evidence with PUT /api/admin/payments/disputes/${id}/evidence or a file ` +
    `with POST /api/admin/payments/disputes/${id}/files first; nothing was sent to Stripe`;
  return new DisputeRefusal("validation_failed", `draft: ${message}`, [{ path: "draft", message }]);
}

/**
 * A draft Stripe refused to stage on `field` (a file id it does not know) is not sent: the
 * submit would fail at Stripe as `502` (README "Dispute workbench", What Stripe holds).
 */
export function draftFieldRefused(id: string, field: string, why: string | null): DisputeRefusal {
  const files = `/api/admin/payments/disputes/${id}/files`;
  const message = `Stripe refused the draft's ${field} when it was staged` +
    (why ? ` (${why.replace(/ \(evidence field \w+: .*\)$/, "")})` : "") +
    `: upload the file with POST ${files} (evidence_field=${field}) or remove ${field} ` +
    `from the draft with PUT /api/admin/payments/disputes/${id}/evidence, then submit; ` +
    "nothing was sent to Stripe";
  return new DisputeRefusal("validation_failed", `evidence.${field}: ${message}`, [{
    path: `evidence.${field}`,
    message,
  }]);
}
