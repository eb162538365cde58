/** What the admin API shows of an intake log record. */
import type { WebhookEventRecord, WebhookEventStatus } from "../../kv/webhook_events.ts";

export interface WebhookEventView {
  id: string;
  type: string;
  /** Stripe's `created`, seconds since the epoch */
  created: number;
  livemode: boolean;
  api_version: string | null;
  received_at: string;
  status: WebhookEventStatus;
  attempts: number;
  last_error: string | null;
  detail: string | null;
  processed_at: string | null;
  object: { id: string | null; type: string | null };
  payload_bytes: number;
}

export function toView(r: WebhookEventRecord): WebhookEventView {
  return {
    id: r.id,
    type: r.type,
    created: r.created,
    livemode: r.livemode,
    api_version: r.api_version,
    received_at: new Date(r.received_at).toISOString(),
    status: r.status,
    attempts: r.attempts,
    last_error: r.last_error,
    detail: r.detail,
    processed_at: r.processed_at === null ? null : new Date(r.processed_at).toISOString(),
    object: { id: r.object_id, type: r.object_type },
    payload_bytes: r.payload_bytes,
  };
}
