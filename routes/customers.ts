/**
 * GET /customers/{id} (mounted under /api/admin/payments): the customer as
 * Stripe reported it (email masked), balances, the ledger (newest first,
 * paged with `cursor`), the fraud aggregates and the open alerts.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { CUSTOMER, idPath } from "../openapi/ids.ts";
import {
  AmountSchema,
  CursorQuery,
  DateTimeSchema,
  errorResponses,
  jsonContent,
  LimitQuery,
  orNull,
  pageSchema,
} from "../openapi/schemas.ts";
import { PaymentMethodSchema } from "../openapi/record_schemas.ts";
import type { Services } from "../services/mod.ts";
import { AlertSchema } from "./fraud_schemas.ts";
import { can } from "../domain/permissions.ts";

const LedgerEntrySchema = z.object({
  id: z.string().openapi({ example: "led_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  customer: z.string(),
  type: z.enum([
    "payment",
    "refund",
    "refund_reversal",
    "dispute_withdrawal",
    "dispute_reinstatement",
    "reassignment",
  ]).openapi({
    description: "`reassignment`: the transaction's money taken off this ledger, as Stripe's " +
      "payment turned out to be another customer's, or paid in another currency, than an " +
      "earlier event showed (its entries are posted again where they belong)",
  }),
  amount: AmountSchema.openapi({ description: "signed: paid in positive, given back negative" }),
  currency: z.string(),
  transaction_id: z.string().openapi({
    description: "the transaction the line belongs to now: a line posted before its charge was " +
      "linked to its PaymentIntent names the payment's transaction it merged into",
  }),
  stripe_object: z.string().openapi({ example: "re_3QxYz" }),
  at: DateTimeSchema,
}).openapi("LedgerEntry");

const counts = z.object({ payments: z.number().int(), failures: z.number().int() });

const AggregatesSchema = z.object({
  window_hours: z.number().int(),
  last_hour: counts,
  last_24h: counts.extend({ declines: z.record(z.string(), z.number().int()) }),
  hourly: z.array(z.object({
    hour: z.string(),
    payments: z.number().int(),
    failures: z.number().int(),
    amounts: z.record(z.string(), z.number().int()),
    declines: z.record(z.string(), z.number().int()),
  })),
  distinct_fingerprints: z.object({
    last_24h: z.number().int(),
    last_7d: z.number().int(),
    last_30d: z.number().int(),
  }),
  amount_stats: z.record(
    z.string(),
    z.object({ count: z.number().int(), mean: z.number(), stddev: z.number() }).nullable(),
  ),
  totals: z.object({
    payments: z.number().int(),
    failures: z.number().int(),
    declines_by_code: z.record(z.string(), z.number().int()),
    early_fraud_warnings: z.number().int(),
    reviews_opened: z.number().int(),
    disputes: z.number().int(),
  }),
  updated_at: DateTimeSchema,
}).openapi("CustomerAggregates");

const AlertSummarySchema = z.object({
  id: z.string(),
  rule: z.string(),
  severity: z.string(),
  status: z.string(),
}).strict().openapi("FraudAlertSummary");

const CustomerViewSchema = z.object({
  customer: z.object({
    id: z.string().openapi({ example: "cus_R2d2C3po" }),
    email: z.string().nullable().openapi({ example: "j***@example.com" }),
    name: z.string().nullable(),
    description: z.string().nullable(),
    created: DateTimeSchema.nullable(),
    deleted: z.boolean(),
    payment_methods: z.array(PaymentMethodSchema.extend({
      id: z.string(),
      attached_at: DateTimeSchema,
    })).openapi({
      description: "as webhooks told: attached (`payment_method.attached`) and not detached " +
        "since (`payment_method.detached`), whichever event came first",
    }),
  }),
  balances: z.array(z.object({
    currency: z.string(),
    amount: AmountSchema,
    entries: z.number().int(),
  })).openapi({ description: "per currency, always the sum of the ledger's entries" }),
  ledger: pageSchema(LedgerEntrySchema, "LedgerPage"),
  aggregates: orNull(AggregatesSchema),
  open_alerts: z.array(z.union([AlertSchema, AlertSummarySchema])).openapi({
    description: "open fraud alerts, newest first: the whole alert to roles that read alerts " +
      "(`fraud.read`: analyst, operator, admin), else its id, rule, severity and status",
  }),
}).openapi("CustomerView");

const show = adminRoute({ permission: "customers.read" }, {
  method: "get",
  path: "/customers/{id}",
  tags: ["customers"],
  summary: "A customer's ledger, balances, aggregates and open alerts",
  request: {
    params: idPath([CUSTOMER], "cus_R2d2C3po"),
    query: z.object({ limit: LimitQuery, cursor: CursorQuery }),
  },
  responses: {
    200: jsonContent(CustomerViewSchema, "the customer; `limit`/`cursor` page the ledger"),
    ...errorResponses("not_found"),
  },
});

export function customerRoutes(services: Services) {
  return createRouter().openapi(show, async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    // reading an alert is analyst and above: the others see what the transaction page shows
    const full = can(c.get("principal")!.role, "fraud.read");
    const view = await services.customers.get(id, {
      limit: q.limit,
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    }, full ? "full" : "summary");
    return c.json(view, 200);
  });
}
