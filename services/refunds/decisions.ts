/**
 * The second person's decision on a refund awaiting approval (README,
 * "Two-person rules"): approve sends it to Stripe, reject releases its
 * reservation; deciding again what you decided answers that decision
 * (decided.ts). Both run under the caller's Idempotency-Key.
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError, type ErrorCode, type FieldError, validationFailed } from "../../core/errors.ts";
import { requestFingerprint, runIdempotent } from "../../kv/idempotency.ts";
import { voidIfUndoable } from "./void.ts";
import { auditIfRefused } from "./denials.ts";
import { replayedDecision } from "./decided.ts";
import { refundDetail } from "./views.ts";
import {
  asItStands,
  decisionScope,
  inProgress,
  type RefundResult,
  resume,
  type ServiceParts,
  toResult,
} from "./parts.ts";

/**
 * An approver approves exactly the refund they read, by its `approval.hash` (README, "A first
 * session"): without it nothing is approved. Both approve routes (the refund's and the approvals
 * queue's) and this service say it in these words; `id` is the refund's, where it is known.
 */
export function approvalHashRequired(id = "{id}"): FieldError {
  return {
    path: "body.approval_hash",
    message: "approval_hash is required: read the refund (GET /api/admin/payments/refunds/" +
      `${id}) and send its approval.hash (64 hex characters), so that what you ` +
      "approve is exactly what you read",
  };
}

/** Approves and sends: Stripe answered, or left to reconciliation (`processing`). */
export async function approve(
  p: ServiceParts,
  ctx: CallContext,
  id: string,
  body: { note?: string; approval_hash?: string } = {},
): Promise<RefundResult> {
  const { kv, clock, submitter, requests } = p;
  // a malformed request: decides nothing, keeps nothing against its key, leaves no audit entry
  // (README, "Refund approval policy")
  if (!body.approval_hash) throw validationFailed([approvalHashRequired(id)]);
  const fingerprint = await requestFingerprint({ route: "approve", id, ...body });
  const target = { type: "refund", id };
  return toResult(
    await runIdempotent(kv, clock, decisionScope(ctx, id, "approve"), fingerprint, {
      run: async (binding) => {
        let record;
        try {
          record = await requests.approve(ctx, id, body, binding);
        } catch (error) {
          // approving again what you approved answers it, as the queue does (decided.ts)
          const replay = await replayedDecision(kv, clock.now(), ctx, id, true, error);
          if (replay) return replay;
          // a refund that can no longer be carried out is recorded by its voiding (void.ts)
          const except: ErrorCode[] = ["amount_exceeds_refundable"];
          await auditIfRefused(p.svc.audit, ctx, "refund.approve", target, error, { except });
          throw await voidIfUndoable(p.submitter, ctx, id, error);
        }
        record = await submitter.submit(ctx, record);
        return { body: refundDetail(record, p.clock.now()) };
      },
      resume: (id) => resume(p, id),
      asItStands: (id) => asItStands(p, id),
      inProgress: (stored) => inProgress(p, stored),
    }).catch(async (error) => {
      if (isKeyReused(error)) {
        await auditIfRefused(p.svc.audit, ctx, "refund.approve", target, error);
      }
      throw error;
    }),
  );
}

const isKeyReused = (e: unknown) => e instanceof AppError && e.code === "idempotency_key_reused";

/**
 * Rejects: the reservation is released. Nobody who could not approve it (its requester, a linked
 * account) may reject it; a refund nobody decides expires at its deadline (README, "Two-person
 * rules").
 */
export async function reject(
  p: ServiceParts,
  ctx: CallContext,
  id: string,
  body: { note: string },
): Promise<RefundResult> {
  const { kv, clock, submitter, requests } = p;
  const fingerprint = await requestFingerprint({ route: "reject", id, ...body });
  const target = { type: "refund", id };
  return toResult(
    await runIdempotent(kv, clock, decisionScope(ctx, id, "reject"), fingerprint, {
      run: async (binding) => {
        if (!body.note?.trim()) {
          throw validationFailed([{
            path: "body.note",
            message: "note is required: say why the refund is rejected (1 to 500 characters)",
          }]);
        }
        try {
          await requests.checkRejectable(ctx, id);
          const record = await submitter.release(ctx, id, {
            status: "rejected",
            from: ["awaiting_approval"],
            action: "refund.reject",
            reason: body.note.trim(),
            decided_by: ctx.actor.id,
            binding,
          });
          // lost to a concurrent decision, or its deadline passed meanwhile: 409
          if (!record) await requests.checkAwaiting(ctx, id);
          if (!record) throw new AppError("conflict", `refund ${id} was decided meanwhile`);
          return { body: refundDetail(record, p.clock.now()) };
        } catch (error) {
          const replay = await replayedDecision(kv, clock.now(), ctx, id, false, error);
          if (replay) return replay;
          await auditIfRefused(p.svc.audit, ctx, "refund.reject", target, error);
          // past its deadline: ended now, its reservation released (void.ts)
          throw await voidIfUndoable(p.submitter, ctx, id, error);
        }
      },
      resume: (id) => resume(p, id),
      asItStands: (id) => asItStands(p, id),
    }).catch(async (error) => {
      if (isKeyReused(error)) {
        await auditIfRefused(p.svc.audit, ctx, "refund.reject", target, error);
      }
      throw error;
    }),
  );
}
