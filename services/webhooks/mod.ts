/**
 * Webhooks: intake of Stripe's deliveries (signature checked on the raw body,
 * deduplicated by event id), processing in batched commits through ingest, the
 * event log operators list and replay, and its retention.
 */
export { createWebhookService, MAX_WEBHOOK_BODY_BYTES, webhookJobHandlers } from "./service.ts";
export type { EventApplier } from "./processing.ts";
