/**
 * `If-Match` on an alert's change (README "Fraud detection", workflow; "Inputs and headers"):
 * the alert's tag is the strong `ETag` of `GET /fraud/alerts/{id}`, whose answer is the alert
 * as stored. The change is made only while the alert still is the one read: compared in the
 * change's own checked commit, so a change landing meanwhile makes it `412
 * precondition_failed`, naming the tag now and the alert's last change (what it did: a move,
 * an assignment, a note), with nothing written.
 */
import { AppError } from "../../core/errors.ts";
import { entityTag, ifMatchHolds, tagsOf } from "../../core/entity_tag.ts";
import { byWhom, type CallContext } from "../../domain/actor.ts";
import { ALERT_MAX_HISTORY, type FraudAlert } from "../../domain/fraud.ts";

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
    : `the alert changed since you read it (updated ${alert.updated_at}${lastChange(alert, ctx)})`;
  return new AppError(
    "precondition_failed",
    `fraud alert ${alert.id}: ${why}; its tag is now ${current}: read it again, decide, and ` +
      `send the change with If-Match: ${current}; nothing was written`,
    { extra: { etag: current } },
  );
}

/**
 * The alert's last change as its last history entry made it: a move from one status to another,
 * an assignment (the entry's assignee against the one before it), or both, and a note with it.
 */
function lastChange(alert: FraudAlert, ctx: CallContext): string {
  const last = alert.history.at(-1);
  if (!last) return "";
  // the assignee before it: the previous entry's, or none on the alert's first change (a history
  // cut to its last entries keeps no earlier one: a change without a move is an assignment)
  const previous = alert.history.at(-2);
  const before = previous
    ? previous.assignee
    : alert.history.length < ALERT_MAX_HISTORY
    ? null
    : undefined;
  const moved = last.from !== null && last.from !== last.to;
  const assigned = before === undefined ? !moved : last.assignee !== before;
  const parts: string[] = [];
  if (moved) parts.push(`moved from ${last.from} to ${last.to}`);
  if (assigned) {
    const to = last.assignee === null
      ? "unassigned"
      : `assigned to ${last.assignee === ctx.actor.id ? `you (${last.assignee})` : last.assignee}`;
    parts.push(to);
  }
  const what = parts.length
    ? parts.join(" and ") + (last.note ? ", with a note," : "")
    : last.note
    ? "note added"
    : `moved to ${last.to}`;
  return `; last change: ${what} ${byWhom(last.by, last.at, ctx)}`;
}
