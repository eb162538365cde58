/**
 * /fraud/snoozes (mounted under /api/admin/payments): analysts silence a rule
 * for a customer, or for a card alert's subject `card:<fingerprint>`, until a
 * time; list those in force; end one now. Alerts and analysis: fraud.ts.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { listRoute } from "./list_route.ts";
import { callContext } from "./context.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi/schemas.ts";
import { FRAUD_SUBJECT, idField, idPath, idQuery, ours } from "../openapi/ids.ts";
import { Note, RuleEnum, SnoozeSchema } from "./fraud_schemas.ts";
import type { Services } from "../services/mod.ts";

const tags = ["fraud"];
const q = (name: string) => ({ param: { name, in: "query" as const } });

const snoozeList = listRoute({
  permission: "fraud.triage",
  path: "/fraud/snoozes",
  tags,
  summary: "Snoozes in force, newest first, filtered",
  description: "A snooze that has run out (`until` passed) is not listed.",
  filters: {
    customer: idQuery(
      "customer",
      FRAUD_SUBJECT,
      "a customer's `cus_…` id, or a card alert's subject `card:<fingerprint>`",
    ),
    rule: RuleEnum.optional().openapi(q("rule")),
  },
  item: SnoozeSchema,
  pageName: "FraudSnoozePage",
});

const snoozeCreate = adminRoute({ permission: "fraud.triage" }, {
  method: "post",
  path: "/fraud/snoozes",
  tags,
  summary: "Silence a rule for a customer (or a card alert's subject) until a time",
  description: "The customer is one Stripe's webhooks have reported, or a card alert's subject " +
    "`card:<fingerprint>` of a card the service has seen (else 404 naming `body.customer`): " +
    "the example's `cus_Example…` is none, so sent as is it silences nothing. " +
    "One snooze is in force per customer (or card) and rule: another, whoever asks, is 409 naming it " +
    "(delete it to change it), except the same snooze (customer, rule, `until`, note) sent " +
    "again by whoever made it (a second click), which answers the one in force (201) with " +
    "nothing written. Judged by the payment's time: a payment made before the snooze ends " +
    "(`until`, or when it is deleted) raises nothing of the rule, however late a walk " +
    "evaluates it; one made after raises as usual.",
  request: {
    body: jsonBody(
      z.object({
        customer: idField("customer", FRAUD_SUBJECT).openapi({
          description: "a `cus_…` id, or a card alert's subject `card:<fingerprint>` as " +
            "`GET /fraud/alerts` shows it",
          example: "cus_Example0000000000",
        }),
        rule: RuleEnum,
        until: z.iso.datetime({
          offset: true,
          error: "until must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z",
        }).openapi({
          description: "in the future, at most a year ahead (422 otherwise)",
          example: "2027-01-31T00:00:00Z",
        }),
        note: Note.openapi({ example: "Known wholesale buyer; checked with support" }),
      }).strict().openapi("FraudSnoozeCreate"),
    ),
  },
  responses: {
    201: jsonContent(SnoozeSchema, "snoozed"),
    ...errorResponses("not_found", "conflict"),
  },
});

const snoozeDelete = adminRoute({ permission: "fraud.triage" }, {
  method: "delete",
  path: "/fraud/snoozes/{id}",
  tags,
  summary: "End a snooze now",
  description: "Payments made from now on raise the rule again; those made while the snooze " +
    "was in force stay quiet, whenever a walk evaluates them.",
  request: {
    params: idPath(
      [ours("fsz", "a snooze id", "GET /api/admin/payments/fraud/snoozes")],
      "fsz_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
    ),
  },
  responses: { 200: jsonContent(SnoozeSchema, "removed"), ...errorResponses("not_found") },
});

export function fraudSnoozeRoutes(services: Services) {
  const fraud = services.fraud;
  return createRouter()
    .openapi(snoozeList, async (c) => c.json(await fraud.listSnoozes(c.req.valid("query")), 200))
    .openapi(snoozeCreate, async (c) => {
      return c.json(await fraud.createSnooze(callContext(c), c.req.valid("json")), 201);
    })
    .openapi(snoozeDelete, async (c) => {
      return c.json(await fraud.deleteSnooze(callContext(c), c.req.valid("param").id), 200);
    });
}
