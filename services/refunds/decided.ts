/**
 * Deciding again what you already decided (README, "Two-person rules":
 * approving again what you approved answers that decision, replayed): the
 * same answer on `POST /refunds/{id}/approve|reject` and on the approvals
 * queue. It is no refusal (nothing is audited `denied`) and nothing is done
 * again; a decision someone else made, or another decision than yours, stays
 * a 409.
 */
import type { CallContext } from "../../domain/actor.ts";
import type { RefundRecord } from "../../domain/refund.ts";
import { AppError } from "../../core/errors.ts";
import { getRefund } from "../../kv/refunds.ts";
import { type RefundDetail, refundDetail } from "./views.ts";

/** Whether `actorId` made this decision (approving, or rejecting) on the refund. */
export function madeThisDecision(
  r: Pick<RefundRecord, "status" | "approved_by" | "rejected_by">,
  actorId: string,
  approving: boolean,
): boolean {
  return approving
    ? r.approved_by === actorId
    : r.status === "rejected" && r.rejected_by === actorId;
}

/** An answer that repeats a decision the caller had made (`Idempotent-Replayed: true`). */
export interface ReplayedDecision {
  body: RefundDetail;
  decision_replayed: true;
}

/**
 * What a decision refused as `error` answers instead when `ctx` had already
 * made it (also when a concurrent call of theirs won it): the refund as it
 * stands now; else null, and the refusal stands.
 */
export async function replayedDecision(
  kv: Deno.Kv,
  now: number,
  ctx: CallContext,
  id: string,
  approving: boolean,
  error: unknown,
): Promise<ReplayedDecision | null> {
  if (!(error instanceof AppError && error.code === "conflict")) return null;
  const record = (await getRefund(kv, id)).value;
  if (!record || !madeThisDecision(record, ctx.actor.id, approving)) return null;
  return { body: refundDetail(record, now), decision_replayed: true };
}
