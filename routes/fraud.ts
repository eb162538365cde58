/**
 * /fraud alerts and analysis (mounted under /api/admin/payments):
 * analysts read and work alerts (open -> investigating -> resolved_fraud |
 * resolved_legitimate | escalated), evaluate a payment or customer without side
 * effects; operators refund an alert's payments through the refund path (2FA).
 * Snoozes: fraud_snoozes.ts; rules and sweeps: fraud_rules.ts.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { showRoute } from "./show_route.ts";
import { assigneeFilter, callContext } from "./context.ts";
import {
  AssigneeQuery,
  CursorQuery,
  errorResponses,
  jsonBody,
  jsonContent,
  LimitQuery,
  pageSchema,
  typedText,
} from "../openapi/schemas.ts";
import {
  AlertIdParam,
  AlertRefundResultSchema,
  AlertSchema,
  Note,
  RuleEnum,
  SeverityEnum,
  SignalSchema,
  StatusEnum,
} from "./fraud_schemas.ts";
import type { Services } from "../services/mod.ts";
import { transactionIdAt } from "./transactions.ts";
import { ADMIN, FRAUD_SUBJECT, idField, idQuery, ME, TRANSACTION_REF } from "../openapi/ids.ts";
import { ifMatchHeader } from "./if_match.ts";
import { alertTag } from "../services/fraud/alert_precondition.ts";

const tags = ["fraud"];
const q = (name: string) => ({ param: { name, in: "query" as const } });

const list = adminRoute({ permission: "fraud.read" }, {
  method: "get",
  path: "/fraud/alerts",
  tags,
  summary: "Fraud alerts, newest first, filtered",
  request: {
    query: z.object({
      status: StatusEnum.optional().openapi(q("status")),
      severity: SeverityEnum.optional().openapi(q("severity")),
      customer: idQuery(
        "customer",
        FRAUD_SUBJECT,
        "a customer's `cus_…` id (its own alerts and the card alerts naming it in `customers`), " +
          "or a card's subject `card:<fingerprint>` as `subject` shows it",
      ),
      rule: RuleEnum.optional().openapi(q("rule")),
      assignee: AssigneeQuery,
      limit: LimitQuery,
      cursor: CursorQuery,
    }),
  },
  responses: { 200: jsonContent(pageSchema(AlertSchema, "FraudAlertPage"), "a page") },
});

const show = showRoute({
  permission: "fraud.read",
  path: "/fraud/alerts/{id}",
  tags,
  summary: "One alert, with its signals, evidence and input snapshot",
  description: "The answer is the alert as stored, so its `ETag` is strong (no `W/`): send it " +
    "as `If-Match` with `PATCH /fraud/alerts/{id}` to change the alert only while it is the " +
    "one you read.",
  params: AlertIdParam,
  item: AlertSchema,
  found: "the alert",
});

const ETAG_EXAMPLE = '"1k-4f2a9c0d1e3b5a7c"';

const update = adminRoute({ permission: "fraud.triage" }, {
  method: "patch",
  path: "/fraud/alerts/{id}",
  tags,
  summary: "Move an alert on, assign it; a note is required to resolve",
  description: "Resolving it `resolved_legitimate` voids the refunds asked for through this " +
    "alert (`POST /fraud/alerts/{id}/refunds`) still waiting for approval (`voided_refunds`); " +
    "a refund of its payments asked for otherwise (`POST /refunds`, or through another " +
    "alert) is left as it is. A refund is not withdrawn by its requester: while one of those " +
    "refunds was asked by you or an account linked to you, resolving it `resolved_legitimate` " +
    "is 409 naming them (`awaiting_refunds`), nothing written; another operator or admin " +
    "resolves the alert or decides the refunds. Asking for or approving one of this alert's refunds later is " +
    "409. A move the alert does not allow is 409, except the move that brought it where " +
    "it is, sent again by the same admin (a second click), which answers the alert unchanged. " +
    "An assignee the alert already has, sent without a status, changes nothing: the alert is " +
    "answered as it is, nothing written (no history entry, no audit, the note not kept). " +
    "With `If-Match` (the `ETag` of `GET /fraud/alerts/{id}`) the change is made only while " +
    "the alert is still the one read, compared in the change's own commit: else `412 " +
    "precondition_failed` naming the tag now and the alert's last move, nothing written. " +
    "Without it, the change is judged against the alert as it is then.",
  request: {
    params: AlertIdParam,
    headers: z.object({
      "if-match": ifMatchHeader(
        "the alert's ETag as GET /fraud/alerts/{id} answers it, in double quotes, or *",
        "the alert this change was made from: the `ETag` of `GET /fraud/alerts/{id}` (or of " +
          "the last `PATCH`'s answer). When the alert changed since, `412 precondition_failed` " +
          "naming its tag now, nothing written; `*` takes any current alert. Compared strongly " +
          "(RFC 9110): a weak `W/` tag never matches. A value that is no entity tag is `422` on " +
          "the header",
        ETAG_EXAMPLE,
      ),
    }),
    body: jsonBody(
      z.object({
        status: StatusEnum.optional(),
        assignee: idField("assignee", [ADMIN, ME]).nullable().optional().openapi({
          description: "an active analyst's, operator's or admin's id (`adm_…`; another, a " +
            "disabled account or one whose role cannot work alerts is 422), `me` for yourself " +
            "(as on `PATCH /disputes/{id}`), or null to unassign",
        }),
        note: typedText(z.string().trim().max(500, "note is at most 500 characters"), "note")
          .optional(),
      }).strict().refine((b) => b.status !== undefined || b.assignee !== undefined, {
        message: "send status, assignee or both (a note goes with a status or an assignee, " +
          "into the alert's history; alone it changes nothing)",
        path: ["status"],
      }).openapi("FraudAlertUpdate", {
        example: { status: "investigating", note: "Checking the customer's earlier orders" },
      }),
    ),
  },
  responses: {
    200: {
      ...jsonContent(
        AlertSchema.extend({
          voided_refunds: z.array(z.string()).openapi({
            description: "resolving it `resolved_legitimate`: the refunds asked for through " +
              "this alert that were waiting for a second person, now `rejected` (`refund.void`)",
          }),
        }).openapi("FraudAlertUpdated"),
        "updated",
      ),
      headers: {
        etag: {
          description: "the alert's tag now, as `GET /fraud/alerts/{id}` answers it: send it " +
            "as `If-Match` with the next change",
          schema: { type: "string", example: ETAG_EXAMPLE },
        },
      },
    },
    ...errorResponses("not_found", "conflict", "precondition_failed"),
  },
});

const refund = adminRoute({ permission: "refunds.create", secondFactor: true }, {
  method: "post",
  path: "/fraud/alerts/{id}/refunds",
  tags,
  summary: "Refund the alert's payments as fraudulent, through the refund path",
  description: "Each payment is refunded as `POST /refunds` would (same checks, same second " +
    "approver at or above the threshold), with the alert linked on the refund. An alert " +
    "resolved `resolved_legitimate` is 409: its payments were judged legitimate. A payment " +
    "you refunded the same amount of in the last 10 minutes is refused `duplicate_suspected` " +
    "in its result; send `confirm_duplicate` set to true (here, as on `POST /refunds`) to " +
    "refund it again. A payment of the alert that took no money (declined, canceled: a rule " +
    "counting failures, such as velocity, lists those) is not sent: it is listed in " +
    "`skipped` with its status and why, not in `results`.",
  request: {
    params: AlertIdParam,
    headers: z.object({
      "idempotency-key": z.string().min(1).max(200, "Idempotency-Key is at most 200 characters")
        .optional().openapi({
          param: { name: "idempotency-key", in: "header" },
          description: "same key + same body replays the first answer " +
            "(`Idempotent-Replayed: true`; a refund `processing` in it as it stands, the key's " +
            "answer once settled); a different body is 422 `idempotency_key_reused`",
        }),
    }),
    body: jsonBody(
      z.object({
        note: Note.openapi({ example: "Confirmed card testing: refund the attempts" }),
        confirm_duplicate: z.boolean().optional().openapi({
          description: "as on `POST /refunds`, passed to each payment's refund: refund a " +
            "payment again although you asked for the same refund of it in the last 10 " +
            "minutes (refused `duplicate_suspected` without it); default false",
          example: false,
        }),
      }).strict().openapi("FraudAlertRefund", {
        // what "Try it out" sends: the duplicate guard left on
        example: { note: "Confirmed card testing: refund the attempts" },
      }),
    ),
  },
  responses: {
    200: jsonContent(
      AlertRefundResultSchema,
      "one result per payment with money captured: 201 sent, 202 awaiting approval, or the " +
        "refusal; the payments that took none in `skipped`",
    ),
    ...errorResponses("not_found", "conflict", "idempotency_key_reused"),
  },
});

const analyze = adminRoute({ permission: "fraud.read" }, {
  method: "post",
  path: "/fraud/analyze",
  tags,
  summary: "Evaluate a payment or a customer now; returns the signals, writes nothing",
  request: {
    body: jsonBody(
      z.object({
        transaction_id: idField("transaction_id", TRANSACTION_REF).optional().openapi({
          description: "the txn_… id, or the payment's pi_… / ch_… id as the Stripe Dashboard " +
            "shows it",
        }),
        customer_id: idField("customer_id", FRAUD_SUBJECT).optional().openapi({
          description: "a customer's `cus_…` id, or a card's subject `card:<fingerprint>` " +
            "(either unknown here: 404 on `body.customer_id`); a card is evaluated as the " +
            "sweep evaluates it: its own payments without a customer, and the across-customer " +
            "check at its customers' declines kept (48 h)",
        }),
      }).strict().refine(
        (b) => (b.transaction_id === undefined) !== (b.customer_id === undefined),
        {
          message: "send exactly one of transaction_id or customer_id",
          path: ["transaction_id"],
        },
      ).openapi("FraudAnalyze", { example: { transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" } }),
    ),
  },
  responses: {
    200: jsonContent(
      z.object({
        subject: z.string().nullable(),
        transaction_id: z.string().nullable(),
        evaluated: z.number().int(),
        signals: z.array(SignalSchema),
      }).openapi("FraudAnalysis"),
      "the signals",
    ),
    ...errorResponses("not_found"),
  },
});

export function fraudRoutes(services: Services) {
  const fraud = services.fraud;
  return createRouter()
    .openapi(list, async (c) => {
      const q = c.req.valid("query");
      return c.json(await fraud.listAlerts({ ...q, assignee: assigneeFilter(c, q.assignee) }), 200);
    })
    .openapi(show, async (c) => {
      // the alert as stored, byte for byte: the tag `PATCH` takes as If-Match
      c.set("strongEtag", true);
      return c.json(await fraud.getAlert(c.req.valid("param").id), 200);
    })
    .openapi(update, async (c) => {
      const body = c.req.valid("json");
      // `me` is the caller, as in the list's `assignee=me` (README, "API")
      const assignee = body.assignee ? { assignee: assigneeFilter(c, body.assignee)! } : {};
      const ifMatch = c.req.valid("header")["if-match"];
      const change = { ...body, ...assignee, ifMatch };
      const updated = await fraud.updateAlert(callContext(c), c.req.valid("param").id, change);
      const { voided_refunds: _, ...alert } = updated;
      c.header("ETag", alertTag(alert));
      return c.json(updated, 200);
    })
    .openapi(refund, async (c) => {
      const { replayed, ...answer } = await fraud.refundAlert(
        callContext(c),
        c.req.valid("param").id,
        c.req.valid("json"),
      );
      if (replayed) c.header("Idempotent-Replayed", "true");
      return c.json(answer, 200);
    })
    .openapi(analyze, async (c) => {
      const body = c.req.valid("json");
      // a payment as operators find it, as on POST /refunds (README "A first session")
      const input = body.transaction_id === undefined ? body : {
        transaction_id: await transactionIdAt(services, body.transaction_id, "body.transaction_id"),
      };
      return c.json(await fraud.analyze(input), 200);
    });
}
