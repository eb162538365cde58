/**
 * What one processing attempt of a stored event came to, and the intake log
 * record it leaves: the same rule for the inline attempt, cron's retry and a
 * replay (processing.ts, replay.ts).
 */
import type { WebhookEventRecord, WebhookEventStatus } from "../../kv/webhook_events.ts";

/** the job that retries an event's processing (processing.ts) */
export const WEBHOOK_PROCESS_JOB = "webhook.process";
/** attempts in all, the first one right after intake included; then the event is `dead` */
export const WEBHOOK_MAX_ATTEMPTS = 8;

/** processed events are kept (and their ids deduplicated) this long; Stripe retries for 3 days */
export const WEBHOOK_RETENTION_MS = 30 * 24 * 3600_000;
const WEEK_MS = 7 * 24 * 3600_000;

export type Outcome =
  | { ok: true; applied: boolean; detail: string; joined?: boolean; notProcessed?: true }
  | { ok: false; error: string };

/** The record after an attempt that ended at `now`; `failedStatus` is what a failure makes it. */
export function recordAfter(
  before: WebhookEventRecord,
  outcome: Outcome,
  failedStatus: WebhookEventStatus,
  now: number,
): WebhookEventRecord {
  if (!outcome.ok) {
    // An attempt that failed after another one settled the event (a forced replay, a retry
    // or inline attempt that overlapped the one that processed it) is counted, and changes
    // nothing else: the status stays, and `last_error` stays what it was when the event
    // settled (null once processed), so a processed record never reads as a failed one. A
    // replay's own failure is kept in its mark (`replayed`, shown as `last_replay`), its
    // answer and its audit entry; any other such failure is logged (README, "Stripe webhooks").
    const done = before.status === "processed" || before.status === "ignored";
    if (done) return { ...before, attempts: before.attempts + 1 };
    return {
      ...before,
      status: failedStatus,
      attempts: before.attempts + 1,
      last_error: outcome.error,
    };
  }
  // Applied by an earlier attempt (an overlapping cron run, a forced replay): nothing
  // changing now does not make it "ignored".
  const already = before.status === "processed" && !outcome.applied;
  // a processed record carries no reason (not even null: every delivery writes one)
  const { ignored_reason: _was, ...rest } = before;
  const next: WebhookEventRecord = {
    ...rest,
    status: outcome.applied || already ? "processed" : "ignored",
    attempts: before.attempts + 1,
    last_error: null,
    detail: already ? before.detail : outcome.detail.slice(0, 1000),
    processed_at: now,
    // A late replay keeps the event at least a week more (its id stays deduplicated).
    keep_until: before.keep_until - now < WEEK_MS ? now + WEBHOOK_RETENTION_MS : before.keep_until,
  };
  if (next.status === "ignored") {
    next.ignored_reason = outcome.notProcessed ? "not_processed" : "no_change";
  }
  return next;
}
