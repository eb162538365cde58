/** What the admin API shows of an intake log record. */
import type { z } from "@hono/zod-openapi";
import type { WebhookEventSchema } from "../../openapi/record_schemas.ts";
import {
  ignoredReasonOf,
  type ReplayMark,
  type WebhookEventRecord,
  type WebhookEventStatus,
  type WebhookIgnoredReason,
} from "../../domain/webhook_event.ts";

/** Declared once, by its schema. */
export type WebhookEventView = z.infer<typeof WebhookEventSchema>;

export function toView(r: WebhookEventRecord): WebhookEventView {
  return {
    id: r.id,
    type: r.type,
    created: r.created,
    livemode: r.livemode,
    api_version: r.api_version,
    received_at: new Date(r.received_at).toISOString(),
    status: r.status,
    ignored_reason: ignoredReasonOf(r),
    attempts: r.attempts,
    last_error: r.last_error,
    detail: r.detail,
    processed_at: r.processed_at === null ? null : new Date(r.processed_at).toISOString(),
    object: { id: r.object_id, type: r.object_type },
    payload_bytes: r.payload_bytes,
    last_replay: lastReplay(r.replayed),
  };
}

/** The last replay as an operator reads it: who, when, forced or not, and what it came to. */
function lastReplay(m: ReplayMark | null | undefined): WebhookEventView["last_replay"] {
  if (!m) return null;
  const { by, force, result, error } = m;
  return { by, at: new Date(m.at).toISOString(), force, result, error };
}

export interface IntakeResult {
  received: true;
  event_id: string;
  duplicate?: true;
}

export interface ReplayResult {
  event: WebhookEventView;
  replay: { result: "ok" | "failed"; detail: string | null; error: string | null };
}

export interface WebhookListQuery {
  status?: WebhookEventStatus;
  type?: string;
  ignored_reason?: WebhookIgnoredReason;
  limit: number;
  cursor?: string;
}
