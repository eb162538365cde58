/**
 * Refunds awaiting approval that the payment can no longer carry (README,
 * "Refund approval policy").
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import type { RefundSubmitter } from "./submit.ts";

/**
 * A refund that can no longer be carried out (the payment was refunded or
 * disputed elsewhere meanwhile) is not left waiting with its reservation:
 * the approver's attempt ends it `failed`, naming why. Returns the error to throw.
 */
export async function voidIfUndoable(
  submitter: Pick<RefundSubmitter, "release">,
  ctx: CallContext,
  id: string,
  error: unknown,
): Promise<unknown> {
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
