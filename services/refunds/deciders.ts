/**
 * Who may decide a refund awaiting approval (README, "Two-person rules"): the
 * self / linked-account rule, approving and rejecting alike, with the refusal
 * each gets (`403 self_approval_forbidden` with its `rule`).
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import type { RefundRecord } from "../../domain/refund.ts";
import { linkRefusal, type Refusal } from "../approvals/mod.ts";

/** Who decides a refund its requester or a linked account may not reject, and when it lapses. */
function decidedElsewhere(first: RefundRecord, notLinkedTo: string): string {
  return `a different operator or admin, not linked to ${notLinkedTo}, decides it, or it ` +
    `expires unanswered at ${first.expires_at} (its approval deadline) and its reservation ` +
    "is released";
}

/**
 * Who may decide a refund (README, "Two-person rules"): never its requester, never an account
 * linked to them, approving or rejecting alike, so that nobody who could not approve it vetoes it.
 * Unlike the queue's other requests, a refund is not withdrawn by its requester: someone else
 * decides it, or it expires unanswered at its `expires_at`.
 */
export async function deciderRefusal(
  kv: Deno.Kv,
  first: RefundRecord,
  ctx: CallContext,
  approving: boolean,
): Promise<Refusal | null> {
  const rule = { rule: "self_approval_forbidden" };
  if (first.requested_by === ctx.actor.id) {
    return approving
      ? {
        reason: "self-approval: a different operator or admin must approve",
        error: new AppError(
          "self_approval_forbidden",
          `you requested refund ${first.id}; a different operator or admin must approve it`,
          { extra: rule },
        ),
      }
      : {
        reason: "self-rejection: the requester may not reject their own refund; a different " +
          "operator or admin decides it",
        error: new AppError(
          "self_approval_forbidden",
          `you requested refund ${first.id}, so you may not reject it: ` +
            `${decidedElsewhere(first, "you")}; nothing was rejected`,
          { extra: rule },
        ),
      };
  }
  const linked = await linkRefusal(kv, { requested_by: first.requested_by, target: null }, ctx);
  if (!linked || approving) return linked;
  return {
    reason: linked.reason,
    error: new AppError(
      "self_approval_forbidden",
      `${linked.reason}; you may not reject refund ${first.id} either: ` +
        `${decidedElsewhere(first, "the requester")}; nothing was rejected`,
      { extra: linked.error.extra },
    ),
  };
}
