/**
 * `If-Match` on an alert's change (README "Fraud detection", workflow; "Inputs and headers"):
 * the alert's tag is the strong `ETag` of `GET /fraud/alerts/{id}`, whose answer is the alert
 * as stored. The change is made only while the alert still is the one read: compared in the
 * change's own checked commit, so a change landing meanwhile makes it `412
 * precondition_failed`, naming the tag now and the alert's last move, with nothing written.
 */
import { AppError } from "../../core/errors.ts";
import { entityTag, ifMatchHolds, tagsOf } from "../../core/entity_tag.ts";
import { byWhom, type CallContext } from "../../domain/actor.ts";
import type { FraudAlert } from "../../domain/fraud.ts";

/** The alert's entity-tag: the one `GET /fraud/alerts/{id}` answers in `ETag`. */
export function alertTag(alert: FraudAlert): string {
  return entityTag(JSON.stringify(alert));
}

/** The 412 when `ifMatch` does not hold for the alert as it is now (null: make the change). */
export function alertPreconditionError(
  alert: FraudAlert,
  ifMatch: string | undefined,
  ctx: CallContext,
): AppError | null {
  if (ifMatch === undefined) return null;
  const current = alertTag(alert);
  if (ifMatchHolds(ifMatch, current)) return null;
  const why = tagsOf(ifMatch).every((t) => t.startsWith("W/"))
    ? "If-Match compares strongly (RFC 9110) and a weak tag (W/…) never matches: send the ETag " +
      "of GET /fraud/alerts/{id} as it is sent"
    : `the alert changed since you read it (updated ${alert.updated_at}${lastMove(alert, ctx)})`;
  return new AppError(
    "precondition_failed",
    `fraud alert ${alert.id}: ${why}; its tag is now ${current}: read it again, decide, and ` +
      `send the change with If-Match: ${current}; nothing was written`,
    { extra: { etag: current } },
  );
}

function lastMove(alert: FraudAlert, ctx: CallContext): string {
  const last = alert.history.at(-1);
  return last ? `; last moved to ${last.to} ${byWhom(last.by, last.at, ctx)}` : "";
}
