/**
 * /ops-alerts (mounted under /api/admin/payments): the problems raised for
 * the people on duty (a refund Stripe failed after reporting success, one
 * Stripe never received, a webhook event that used up its attempts, an admin
 * disabled or demoted), to see
 * (viewer+) and close with a note once handled (operator+, audited; never
 * one about your own account or act, or a linked account's: README, "Ops alerts").
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { idPath, ours } from "../openapi/ids.ts";
import { adminRoute } from "./admin_route.ts";
import { showRoute } from "./show_route.ts";
import { listRoute } from "./list_route.ts";
import { callContext } from "./context.ts";
import {
  AmountSchema,
  CurrencySchema,
  DateTimeSchema as DateTime,
  errorResponses,
  jsonBody,
  jsonContent,
  typedText,
} from "../openapi/schemas.ts";
import { oneOf, queryParam } from "../openapi/schemas.ts";
import { OPS_ALERT_KINDS, OPS_ALERT_STATUSES } from "../services/ops_alerts.ts";
import type { Services } from "../services/mod.ts";

const OpsAlertSchema = z.object({
  id: z.string().openapi({ example: "ops_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  kind: z.enum(OPS_ALERT_KINDS).openapi({
    description: "`refund_failed_after_success`: Stripe failed a refund it had reported " +
      "succeeded (the money is back with the merchant, the customer was told otherwise); " +
      "`refund_lost_at_stripe`: a refund sent with an unknown outcome that Stripe never " +
      "received; `webhook_event_dead`: a Stripe event used up its processing attempts, so the " +
      "account's picture misses it until it is replayed; `dispute_due_soon`: a dispute's " +
      "evidence deadline is 72 h or 24 h away and nothing was submitted (closes by itself on " +
      "submit or close); `authorization_expiring`: a payment awaiting capture lapses within " +
      "24 h; `admin_disabled` / `admin_demoted`: an admin was disabled, or given a role that " +
      "cannot manage accounts (by whom and how is in `detail`); `admin_created` / " +
      "`admin_enabled` / `admin_promoted`: the break-glass CLI (`deno task admin`), acting " +
      "alone, made an operator or admin, re-enabled one, or gave an account a role with more " +
      "permissions that can approve; `admin_enabled` too: an account its person had enrolled " +
      "was re-enabled, approved or by the CLI, and a code for its new credentials handed to " +
      "someone else (who, in `detail`); `admin_credentials_reset`: the break-glass CLI gave an " +
      "operator or admin a new API token or second factor",
  }),
  refund_id: z.string().nullable().openapi({ description: "refund alerts" }),
  transaction_id: z.string().nullable(),
  stripe_refund: z.string().nullable(),
  webhook_event_id: z.string().nullable().openapi({
    description: "`webhook_event_dead`: the event to replay (`evt_…`)",
  }),
  dispute_id: z.string().nullable().openapi({ description: "`dispute_due_soon`: the dispute" }),
  admin_id: z.string().nullable().openapi({
    description: "`admin_*` kinds: the account",
  }),
  acted_by: z.array(z.string()).openapi({
    description: "`admin_disabled` / `admin_demoted`, and `admin_enabled` for an account its " +
      "person had enrolled: the admins who did it (alone: that admin; on approval: the " +
      "requester and the approver; empty for the CLI and on other kinds)",
  }),
  amount: AmountSchema.nullable().openapi({ description: "the money at stake, when there is" }),
  currency: CurrencySchema.nullable(),
  detail: z.string(),
  status: z.enum(OPS_ALERT_STATUSES),
  created_at: DateTime,
  closed_at: DateTime.nullable(),
  closed_by: z.string().nullable().openapi({ description: "admin id" }),
  close_note: z.string().nullable(),
}).openapi("OpsAlert");

const IdParam = idPath(
  [ours("ops", "an ops alert id", "GET /api/admin/payments/ops-alerts")],
  "ops_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
);

const list = listRoute({
  permission: "ops_alerts.read",
  path: "/ops-alerts",
  tags: ["ops alerts"],
  summary: "Money problems to look at, newest first",
  filters: {
    status: oneOf("status", OPS_ALERT_STATUSES).optional().openapi(queryParam("status")),
    kind: oneOf("kind", OPS_ALERT_KINDS).optional().openapi(queryParam("kind")),
  },
  item: OpsAlertSchema,
  pageName: "OpsAlertPage",
});

const show = showRoute({
  permission: "ops_alerts.read",
  path: "/ops-alerts/{id}",
  tags: ["ops alerts"],
  summary: "One ops alert",
  params: IdParam,
  item: OpsAlertSchema,
  found: "the alert",
});

const close = adminRoute({ permission: "ops_alerts.close" }, {
  method: "post",
  path: "/ops-alerts/{id}/close",
  tags: ["ops alerts"],
  summary: "Close an alert once handled, saying what was done",
  description: "An alert closes once: closing a closed alert is `409`, naming who closed it " +
    "and when, except that the same close sent again by the same admin (same note) answers " +
    "the closed alert, with nothing written. Nobody closes an alert about their own account " +
    "(`admin_id`) or about what they did (`acted_by`), nor one whose account or actor is linked " +
    "to them as in the two-person rules: `403 self_approval_forbidden` with its `rule` " +
    "(`self_approval_forbidden`, `linked_account`), audited `denied`, nothing closed.",
  request: {
    params: IdParam,
    body: jsonBody(
      z.object({
        note: typedText(
          z.string().trim().min(
            1,
            "note is required: say what was done (1 to 500 characters)",
          ).max(500, "note is at most 500 characters"),
          "note",
        ).openapi({ example: "refunded by hand in the Dashboard; ledger checked" }),
      }).strict().openapi("OpsAlertClose"),
    ),
  },
  responses: {
    200: jsonContent(OpsAlertSchema, "closed"),
    ...errorResponses("not_found", "conflict", "self_approval_forbidden"),
  },
});

export function opsAlertRoutes(services: Services) {
  return createRouter()
    .openapi(list, async (c) => c.json(await services.opsAlerts.list(c.req.valid("query")), 200))
    .openapi(show, async (c) => c.json(await services.opsAlerts.get(c.req.valid("param").id), 200))
    .openapi(close, async (c) => {
      const { id } = c.req.valid("param");
      const { note } = c.req.valid("json");
      return c.json(await services.opsAlerts.close(callContext(c), id, note), 200);
    });
}
