/**
 * Refunds awaiting approval that can no longer be approved are ended, not
 * left waiting with their reservation (README, "Refund approval policy";
 * "Accounts and enrollment"): one the payment can no longer carry ends
 * `failed`; one whose requester was disabled after asking, or may no longer
 * ask for refunds (demoted), ends `expired`; a fraudulent one whose fraud
 * alert was resolved legitimate ends `rejected` (README "Fraud detection":
 * workflow).
 */
import type { CallContext } from "../../domain/actor.ts";
import { systemContext } from "../../domain/actor.ts";
import { DEMOTED_VOID_ACTOR, EXPIRY_ACTOR, VOID_ACTOR } from "../../domain/system_actors.ts";
import { AppError } from "../../core/errors.ts";
import { getRefund } from "../../kv/refunds.ts";
import { listRequesterRowsSince } from "../../kv/refund_policy.ts";
import { APPROVAL_TTL_MS } from "./policy.ts";
import type { RefundSubmitter } from "./submit.ts";
import { voidOutcome } from "./fraud_alert.ts";

/**
 * A refund that can no longer be carried out (the payment was refunded or
 * disputed elsewhere meanwhile) is not left waiting with its reservation:
 * the approver's attempt ends it `failed`, naming why. A refund whose
 * requester was disabled since it was asked for, or no longer holds
 * `refunds.create`, ends `expired`, by the system; so does one a decision
 * attempt found past its deadline, in the one commit that marks it and releases
 * its reservation. Returns the error to throw.
 */
export async function voidIfUndoable(
  submitter: Pick<RefundSubmitter, "release">,
  ctx: CallContext,
  id: string,
  error: unknown,
): Promise<unknown> {
  if (error instanceof AppError && error.extra?.approval_expired) {
    const ended = await submitter.release(systemContext(EXPIRY_ACTOR), id, {
      status: "expired",
      from: ["awaiting_approval"],
      action: "refund.expire",
      reason: `no decision by its deadline (found by ${ctx.actor.id}'s attempt); the ` +
        "reservation is released",
    });
    return new AppError(
      error.code,
      `${error.message}; ${ended ? "it is now expired and its reservation released; " : ""}` +
        "ask for the refund again",
      { extra: { refund_status: "expired" } },
    );
  }
  if (
    error instanceof AppError && (error.extra?.requester_disabled || error.extra?.requester_demoted)
  ) {
    // named for what happened: a disabled requester, or one demoted since
    const ctx = error.extra?.requester_demoted
      ? systemContext(DEMOTED_VOID_ACTOR)
      : systemContext(VOID_ACTOR);
    const ended = await submitter.release(ctx, id, {
      status: "expired",
      from: ["awaiting_approval"],
      action: "refund.expire",
      reason: `void: ${error.message}`,
    });
    if (!ended) return error;
    return new AppError(
      error.code,
      `${error.message}; refund ${id} is now expired and its reservation released`,
      { extra: { ...error.extra, refund_status: "expired" } },
    );
  }
  if (error instanceof AppError && error.extra?.fraud_alert_legitimate) {
    const alertId = String(error.extra.fraud_alert_id);
    const ended = await submitter.release(
      ctx,
      id,
      voidOutcome(ctx, alertId, "refused at approval"),
    );
    if (!ended) return error;
    return new AppError(
      error.code,
      `${error.message}; refund ${id} is now rejected and its reservation released`,
      { extra: { ...error.extra, refund_status: "rejected" } },
    );
  }
  if (!(error instanceof AppError && error.code === "amount_exceeds_refundable")) return error;
  const ended = await submitter.release(ctx, id, {
    status: "failed",
    from: ["awaiting_approval"],
    action: "refund.void",
    reason: `cannot be carried out any more: ${error.message}`,
    failure_reason: error.code,
  });
  if (!ended) return error;
  return new AppError(
    error.code,
    `${error.message}; refund ${id} is now failed and its ` +
      "reservation released (ask again for what is left)",
    {
      errors: error.errors,
      extra: { ...error.extra, refund_status: "failed" },
    },
  );
}

/**
 * Ends every refund `adminId` asked for that still awaits approval (their
 * account was just disabled), as the system; returns the ids ended. Read
 * through the requester's index rows of the approval window.
 */
export async function voidAwaitingOf(
  kv: Deno.Kv,
  submitter: Pick<RefundSubmitter, "release">,
  adminId: string,
  nowMs: number,
): Promise<string[]> {
  const rows = await listRequesterRowsSince(kv, adminId, nowMs - 2 * APPROVAL_TTL_MS);
  const ended: string[] = [];
  for (const { row } of rows) {
    const record = (await getRefund(kv, row.id)).value;
    if (record?.status !== "awaiting_approval" || record.requested_by !== adminId) continue;
    const done = await submitter.release(systemContext(VOID_ACTOR), row.id, {
      status: "expired",
      from: ["awaiting_approval"],
      action: "refund.expire",
      reason: `void: requester ${adminId} was disabled`,
    });
    if (done) ended.push(row.id);
  }
  return ended;
}
