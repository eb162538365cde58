/** A Stripe event as the intake log keeps it (`GET /webhook-events`). */
export const WEBHOOK_EVENT_STATUSES = [
  "received",
  "processed",
  "ignored",
  "failed",
  "dead",
] as const;
export type WebhookEventStatus = typeof WEBHOOK_EVENT_STATUSES[number];

/**
 * Why an event is `ignored`: its `livemode` is not the mode of the service's
 * key (README, "Stripe webhooks"), its type (or object) is not processed,
 * the local picture already showed it (an older state, a duplicate), or an
 * admin dismissed it after it failed.
 */
export const WEBHOOK_IGNORED_REASONS = [
  "livemode_mismatch",
  "not_processed",
  "no_change",
  "dismissed",
] as const;
export type WebhookIgnoredReason = typeof WEBHOOK_IGNORED_REASONS[number];

/** The reason of an ignored record; for one stored before reasons were kept, from its detail. */
export function ignoredReasonOf(r: WebhookEventRecord): WebhookIgnoredReason | null {
  if (r.status !== "ignored") return null;
  if (r.ignored_reason) return r.ignored_reason;
  if (r.detail?.startsWith("ignored: livemode")) return "livemode_mismatch";
  return r.detail?.startsWith("ignored:") ? "not_processed" : "no_change";
}

export interface WebhookEventRecord {
  /** Stripe's `evt_…` id */
  id: string;
  /** `whe_…` ULID given at intake: orders the listings by arrival */
  log_id: string;
  type: string;
  /** Stripe's `created`, seconds since the epoch */
  created: number;
  livemode: boolean;
  api_version: string | null;
  /** ms since the epoch */
  received_at: number;
  status: WebhookEventStatus;
  /** processing attempts so far (inline, cron retries and replays) */
  attempts: number;
  last_error: string | null;
  /** what the applier said it did (or why it changed nothing) */
  detail: string | null;
  /** set with `ignored` (absent on records stored before; see `ignoredReasonOf`) */
  ignored_reason?: WebhookIgnoredReason | null;
  processed_at: number | null;
  /** who dismissed it, with what note (absent on records stored before; see services/webhooks/dismiss.ts) */
  dismissed?: { by: string; note: string } | null;
  /** the last replay, what it answered and the record as it left it (services/webhooks/replay.ts) */
  replayed?: ReplayMark | null;
  object_id: string | null;
  object_type: string | null;
  /** the `webhook.process` job that retries it while it is not processed */
  job_id: string | null;
  /** ms; the sweep removes processed/ignored records after this */
  keep_until: number;
  /** the event JSON's length in UTF-8 bytes */
  payload_bytes: number;
  /** 0 when the payload is inline (`payload_z`, or `payload` in records stored before deflating) */
  payload_chunks: number;
  /** how `payload_z` and the chunks are stored; absent: UTF-8 JSON (records stored before) */
  payload_encoding?: "deflate-raw";
  /** the event's JSON deflated, when that is at most `INLINE_PAYLOAD_BYTES` */
  payload_z?: Uint8Array;
  /** the event's JSON, in records stored before payloads were deflated */
  payload?: string;
}

/** A replay as recorded on the event: who, when, and what it answered. */
export interface ReplayMark {
  by: string;
  /** ms since the epoch */
  at: number;
  force: boolean;
  /** the claim it ran under (services/webhooks/claims.ts) */
  claim: string;
  result: "ok" | "failed";
  detail: string | null;
  error: string | null;
  /** the record's attempts and status as the replay left them: unchanged, nothing happened since */
  attempts: number;
  status: WebhookEventStatus;
}

/**
 * Who is processing an event now, a replay or its retry job: one at a time,
 * taken in a commit that checks the record as judged, held until `until`.
 */
export interface WebhookEventClaim {
  id: string;
  kind: "replay" | "retry";
  /** the admin replaying it, or the retry job's kind */
  by: string;
  force: boolean;
  /** ms since the epoch */
  at: number;
  until: number;
}
