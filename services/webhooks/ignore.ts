/**
 * Events the service acknowledges but does not apply: a live event reaching a
 * test-mode service (or the reverse). A 4xx would make Stripe retry for days,
 * then disable the endpoint, so the event is answered 2xx, recorded `ignored`
 * with the reason, and counted once per event (README, "Stripe webhooks").
 */
import type Stripe from "stripe";
import type { Logger } from "../../core/log.ts";
import {
  addIgnoredCount,
  addNewEvent,
  type StoredPayload,
  type WebhookEventRecord,
} from "../../kv/webhook_events.ts";
import type { CommitBatcher } from "./batch.ts";
import type { IntakeResult } from "./view.ts";
import type { WebhookIgnoredReason } from "../../domain/webhook_event.ts";

export interface IgnoreReason {
  reason: WebhookIgnoredReason;
  detail: string;
}

/** A test endpoint's secret in the list must not feed test data into the live ledger. */
export function modeMismatch(eventLive: boolean, serviceLive: boolean): IgnoreReason | null {
  if (eventLive === serviceLive) return null;
  const mode = (live: boolean) => live ? "live" : "test";
  return {
    reason: "livemode_mismatch",
    detail: `ignored: livemode ${eventLive} (a ${mode(eventLive)} event) on a service ` +
      `running with a ${mode(serviceLive)} key; check which endpoint's secret is configured`,
  };
}

export async function ignoreAtIntake(
  intake: { batch: CommitBatcher; log: Logger; now: number },
  event: Stripe.Event,
  base: WebhookEventRecord,
  stored: StoredPayload,
  why: IgnoreReason,
): Promise<IntakeResult> {
  const record: WebhookEventRecord = {
    ...base,
    status: "ignored",
    ignored_reason: why.reason,
    detail: why.detail,
    processed_at: intake.now,
  };
  const res = await intake.batch.submit({
    add(op) {
      addNewEvent(op, record, stored);
      addIgnoredCount(op, why.reason);
    },
    mutations: 8 + stored.chunks.length,
    bytes: record.payload_bytes + 2048,
  });
  if (!res.ok) return { received: true, event_id: event.id, duplicate: true };
  intake.log.warn("webhook event ignored", { event_id: event.id, type: event.type, ...why });
  return { received: true, event_id: event.id };
}
