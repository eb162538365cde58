/**
 * /webhook-events (mounted under /api/admin/payments): the webhook intake log
 * for admins: list (by status and type), one event with its payload, and
 * replay of a failed or dead event, or its dismissal with a note (2FA, audited).
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { idPath, stripe } from "../openapi/ids.ts";
import { adminRoute } from "./admin_route.ts";
import { listRoute } from "./list_route.ts";
import { callContext } from "./context.ts";
import { errorResponses, jsonBody, jsonContent, NoteSchema } from "../openapi/schemas.ts";
import { WebhookEventSchema } from "../openapi/record_schemas.ts";
import { WEBHOOK_EVENT_STATUSES, WEBHOOK_IGNORED_REASONS } from "../domain/webhook_event.ts";
import type { Services } from "../services/mod.ts";

const WebhookEventDetail = WebhookEventSchema.extend({
  payload: z.unknown().openapi({ description: "the event as received (compact JSON)" }),
}).openapi("WebhookEventDetail");

const ReplayResult = z.object({
  event: WebhookEventSchema,
  replay: z.object({
    result: z.enum(["ok", "failed"]),
    detail: z.string().nullable(),
    error: z.string().nullable(),
  }),
}).openapi("WebhookReplayResult");

const IdParam = idPath([stripe(["evt"], "a Stripe event id")], "evt_1Q2w3E4r5T6y7U8i");

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
      description: "a Stripe event type, e.g. `charge.refunded`",
    }),
    ignored_reason: z.enum(WEBHOOK_IGNORED_REASONS).optional().openapi({
      param: { name: "ignored_reason", in: "query" },
      description: "only `ignored` events ignored for this reason (`livemode_mismatch` finds the " +
        "events a wrong endpoint secret let in); with `status`, only `status=ignored`",
    }),
  },
  item: WebhookEventSchema,
  pageName: "WebhookEventPage",
});

const show = adminRoute({ permission: "webhooks.read" }, {
  method: "get",
  path: "/webhook-events/{id}",
  tags: ["webhooks"],
  summary: "One received event with its payload",
  description: "`attempts` counts every processing attempt once (the one right after arrival, " +
    "retries, replays), failed ones included. `last_error` says why the event is `failed` or " +
    "`dead` (or was, for one later dismissed); it is null once the event is `processed`, even " +
    "when an attempt failed after that (a forced replay while Stripe is down, a retry that " +
    "overlapped the attempt that processed it): such an attempt is counted and changes " +
    "nothing else. `last_replay` is the last replay: who sent it, when, forced or not, and " +
    "`result` with its `error` (also in that replay's answer and its `webhook.replay` audit entry).",
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
    "idempotent). `force=true` also reprocesses a processed, ignored or received one. An event " +
    "whose `livemode` is not the mode of the service's key is never replayed, forced or not " +
    "(409, as the intake ignores it). One replay (or retry) processes an event at a time: " +
    "another admin's replay meanwhile is 409 naming who is replaying it and since when, a " +
    "replay while the attempt right after the event's arrival may still run (its first " +
    "minute) is 409 saying so, and " +
    "one after a replay processed it is 409 naming who and when; the same replay (same " +
    "`force`) sent again by the same admin (a second click, a burst) answers what that one " +
    "did, with nothing processed or written. Audited as `webhook.replay` (a refusal as " +
    "`denied`, with its reason); a failed replay answers 200 with `replay.result: failed` and " +
    "its `replay.error` (in the audit entry too, and in the event's `last_replay`), leaving " +
    "the event's status as it was, and a processed event's `last_error` null.",
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

const dismiss = adminRoute({ permission: "webhooks.replay", secondFactor: true }, {
  method: "post",
  path: "/webhook-events/{id}/dismiss",
  // "dismiss" ends in s: the derived name would read it as a collection
  operationId: "dismissWebhookEvent",
  tags: ["webhooks"],
  summary: "Dismiss a failed or dead event that will never process",
  description:
    "Records a `failed` or `dead` event `ignored` with `ignored_reason: dismissed` and " +
    "your note: its retries stop, the ops alert its death raised is closed, and it leaves the " +
    "failed/dead counts of /metrics. Nothing of it is applied; `replay?force=true` still can. " +
    "Any other status is 409 (naming who dismissed or replayed it and when), and so is a " +
    "dismissal while a replay or retry processes the event, except " +
    "the same dismissal sent again by the same admin (a second click, same note), which answers " +
    "the dismissed event with nothing written. Audited as `webhook.dismiss`.",
  request: {
    params: IdParam,
    body: jsonBody(
      z.object({ note: NoteSchema.openapi({ example: "a test event sent by hand; not Stripe's" }) })
        .strict().openapi("WebhookDismissal"),
    ),
  },
  responses: {
    200: jsonContent(WebhookEventSchema, "dismissed"),
    ...errorResponses("not_found", "conflict", "validation_failed"),
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
    })
    .openapi(dismiss, async (c) => {
      const { id } = c.req.valid("param");
      const { note } = c.req.valid("json");
      return c.json(await services.webhooks.dismiss(callContext(c), id, note), 200);
    });
}
