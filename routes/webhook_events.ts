/**
 * /webhook-events (mounted under /api/admin/payments): the webhook intake log for admins: list (by status and type), one event with
 * its payload, and replay of a failed or dead event (2FA, audited).
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { listRoute } from "./list_route.ts";
import { callContext } from "./context.ts";
import { errorResponses, jsonContent } from "../openapi/schemas.ts";
import { WEBHOOK_EVENT_STATUSES } from "../domain/webhook_event.ts";
import type { Services } from "../services/mod.ts";

const WebhookEvent = z.object({
  id: z.string().openapi({ example: "evt_1Q2w3E4r5T6y7U8i" }),
  type: z.string().openapi({ example: "payment_intent.succeeded" }),
  created: z.number().int().openapi({ description: "Stripe's `created`, unix seconds" }),
  livemode: z.boolean(),
  api_version: z.string().nullable(),
  received_at: z.string().openapi({ format: "date-time" }),
  status: z.enum(WEBHOOK_EVENT_STATUSES).openapi({
    description: "`received` (processing), `processed`, `ignored` (processed, nothing to change: " +
      "unknown type or an older state), `failed` (a retry is scheduled), `dead` (retries used up; " +
      "replay it)",
  }),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  detail: z.string().nullable().openapi({ description: "what processing did" }),
  processed_at: z.string().nullable().openapi({ format: "date-time" }),
  object: z.object({ id: z.string().nullable(), type: z.string().nullable() }),
  payload_bytes: z.number().int(),
}).openapi("WebhookEvent");

const WebhookEventDetail = WebhookEvent.extend({
  payload: z.unknown().openapi({ description: "the event as received (compact JSON)" }),
}).openapi("WebhookEventDetail");

const ReplayResult = z.object({
  event: WebhookEvent,
  replay: z.object({
    result: z.enum(["ok", "failed"]),
    detail: z.string().nullable(),
    error: z.string().nullable(),
  }),
}).openapi("WebhookReplayResult");

const IdParam = z.object({
  id: z.string().regex(/^evt_[A-Za-z0-9_]+$/, "an event id (evt_…)").openapi({
    param: { name: "id", in: "path" },
    example: "evt_1Q2w3E4r5T6y7U8i",
  }),
});

const list = listRoute({
  permission: "webhooks.read",
  path: "/webhook-events",
  tags: ["webhooks"],
  summary: "The webhook intake log, newest first",
  filters: {
    status: z.enum(WEBHOOK_EVENT_STATUSES).optional().openapi({
      param: { name: "status", in: "query" },
    }),
    type: z.string().min(1).max(200).optional().openapi({
      param: { name: "type", in: "query" },
      example: "charge.refunded",
    }),
  },
  item: WebhookEvent,
  pageName: "WebhookEventPage",
});

const show = adminRoute({ permission: "webhooks.read" }, {
  method: "get",
  path: "/webhook-events/{id}",
  tags: ["webhooks"],
  summary: "One received event with its payload",
  request: { params: IdParam },
  responses: {
    200: jsonContent(WebhookEventDetail, "the event"),
    ...errorResponses("not_found"),
  },
});

const replay = adminRoute({ permission: "webhooks.replay", secondFactor: true }, {
  method: "post",
  path: "/webhook-events/{id}/replay",
  tags: ["webhooks"],
  summary: "Process a stored event again",
  description: "Runs a `failed` or `dead` event through processing now (processing is " +
    "idempotent). `force=true` also reprocesses a processed, ignored or pending one. Audited as " +
    "`webhook.replay`; a failed replay answers 200 with `replay.result: failed`.",
  request: {
    params: IdParam,
    query: z.object({
      force: z.enum(["true", "false"]).optional().openapi({
        param: { name: "force", in: "query" },
      }),
    }),
  },
  responses: {
    200: jsonContent(ReplayResult, "replayed"),
    ...errorResponses("not_found", "conflict"),
  },
});

export function webhookEventRoutes(services: Services) {
  return createRouter()
    .openapi(list, async (c) => {
      const q = c.req.valid("query");
      return c.json(await services.webhooks.list(q), 200);
    })
    .openapi(show, async (c) => {
      return c.json(await services.webhooks.get(c.req.valid("param").id), 200);
    })
    .openapi(replay, async (c) => {
      const { id } = c.req.valid("param");
      const force = c.req.valid("query").force === "true";
      return c.json(await services.webhooks.replay(callContext(c), id, { force }), 200);
    });
}
