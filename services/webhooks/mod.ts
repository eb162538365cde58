/** The webhooks domain's face: what the rest of the service may use of it. */
export { createWebhookService, MAX_WEBHOOK_BODY_BYTES, webhookJobHandlers } from "./service.ts";
