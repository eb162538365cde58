/** A Stripe event as the intake log keeps it (`GET /webhook-events`). */
export const WEBHOOK_EVENT_STATUSES = [
  "received",
  "processed",
  "ignored",
  "failed",
  "dead",
] as const;
export type WebhookEventStatus = typeof WEBHOOK_EVENT_STATUSES[number];

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
  processed_at: number | null;
  object_id: string | null;
  object_type: string | null;
  /** the `webhook.process` job that retries it while it is not processed */
  job_id: string | null;
  /** ms; the sweep removes processed/ignored records after this */
  keep_until: number;
  payload_bytes: number;
  /** 0 when the payload is inline (`payload`) */
  payload_chunks: number;
  /** the event's JSON, when it is at most `INLINE_PAYLOAD_BYTES` */
  payload?: string;
}
