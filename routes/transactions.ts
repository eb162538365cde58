/**
 * GET /transactions and GET /transactions/{id} (mounted under /api/admin/payments).
 * Transactions come from Stripe's webhooks; nothing here changes them.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { AppError } from "../core/errors.ts";
import { unknownTransaction } from "../domain/transaction.ts";
import { adminRoute } from "./admin_route.ts";
import { listRoute } from "./list_route.ts";
import {
  AmountSchema,
  dateTimeQuery,
  DateTimeSchema,
  errorResponses,
  jsonContent,
  nullableString,
  orNull,
} from "../openapi/schemas.ts";
import { PaymentMethodSchema } from "../openapi/record_schemas.ts";
import { CUSTOMER, idPath, idQuery, TRANSACTION_REF } from "../openapi/ids.ts";
import { TXN_STATUSES } from "../services/transactions.ts";
import type { Services } from "../services/mod.ts";

export const TransactionSchema = z.object({
  id: z.string().openapi({ example: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  customer: nullableString("cus_R2d2C3po"),
  amount: AmountSchema.openapi({
    description: "the amount asked for; while only a refund or dispute is known, the least " +
      "those prove",
  }),
  amount_captured: AmountSchema.openapi({
    description: "what Stripe captured (a partial capture releases the rest); refunds come " +
      "out of this, and `amount_refunded` never exceeds it",
  }),
  amount_capturable: AmountSchema.openapi({
    description: "what an authorization (`requires_capture`) still holds; 0 otherwise",
  }),
  currency: z.string().openapi({ example: "usd", description: "empty until the payment is known" }),
  status: z.enum(TXN_STATUSES as [string, ...string[]]).openapi({
    description: "the PaymentIntent's status, with `failed` for a declined latest attempt and " +
      "`unknown` while only a refund/dispute/signal of the payment has arrived",
  }),
  amount_refunded: AmountSchema.openapi({
    description: "refunds Stripe has accepted (pending or succeeded)",
  }),
  amount_reserved: AmountSchema.openapi({
    description: "refunds in flight or awaiting approval here",
  }),
  amount_disputed: AmountSchema.openapi({
    description: "disputes holding or having taken the money",
  }),
  stripe_payment_intent: nullableString("pi_3QxYz"),
  stripe_charge: nullableString("ch_3QxYz"),
  created: DateTimeSchema.openapi({ description: "when Stripe created it" }),
  description: z.string().nullable(),
  payment_method: orNull(PaymentMethodSchema),
  failure_code: nullableString("card_declined"),
  decline_code: nullableString("insufficient_funds"),
  advice_code: nullableString("try_again_later"),
  failure_message: z.string().nullable(),
  risk_level: nullableString("normal"),
  risk_score: z.number().nullable(),
  dispute_status: nullableString("needs_response"),
  risk_signals: z.object({
    early_fraud_warnings: z.array(z.object({
      id: z.string(),
      fraud_type: z.string(),
      actionable: z.boolean(),
      created: DateTimeSchema,
    })),
    reviews: z.array(z.object({
      id: z.string(),
      open: z.boolean(),
      reason: z.string(),
      opened_reason: z.string().nullable(),
      closed_reason: z.string().nullable(),
      created: DateTimeSchema,
    })),
  }),
  updated_at: DateTimeSchema,
}).openapi("Transaction");

const ListFilters = {
  customer: idQuery("customer", [CUSTOMER], "a Stripe customer id, e.g. `cus_R2d2C3po`"),
  status: z.enum(TXN_STATUSES as [string, ...string[]], {
    error: `status must be one of ${TXN_STATUSES.join(", ")}`,
  }).optional().openapi({ param: { name: "status", in: "query" } }),
  from: dateTimeQuery("from", "created at or after this time"),
  to: dateTimeQuery("to", "created before this time"),
};

const IdParam = idPath(TRANSACTION_REF, "pi_3QxYz");

const list = listRoute({
  permission: "transactions.read",
  path: "/transactions",
  tags: ["transactions"],
  summary: "Payments known to the service, newest first",
  description: "Filter by `customer`, `status` and Stripe's `created` (`from` inclusive, " +
    "`to` exclusive); any combination is one index scan.",
  filters: ListFilters,
  item: TransactionSchema,
  pageName: "TransactionPage",
});

const ActivitySchema = z.object({
  refunds: z.array(z.object({
    id: z.string().openapi({ example: "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
    amount: AmountSchema,
    currency: z.string().openapi({ example: "usd" }),
    status: z.string().openapi({ example: "succeeded" }),
    reason: nullableString("requested_by_customer"),
    requested_by: z.string().openapi({ example: "adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
    created_at: DateTimeSchema,
  })).openapi({ description: "refunds asked for on this payment, any status (GET /refunds/{id})" }),
  disputes: z.array(z.object({
    id: z.string().openapi({ example: "dsp_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
    status: z.string().openapi({ example: "needs_response" }),
    phase: z.string().openapi({ example: "needs_response" }),
    reason: z.string().openapi({ example: "fraudulent" }),
    amount: AmountSchema,
    currency: z.string().openapi({ example: "usd" }),
    evidence_due_by: orNull(DateTimeSchema),
    created_at: DateTimeSchema,
  })).openapi({ description: "its disputes and inquiries (GET /disputes/{id})" }),
  retries: z.array(z.object({
    id: z.string().openapi({ example: "rty_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
    status: z.string().openapi({ example: "failed" }),
    payment_method: z.string().openapi({ example: "pm_1QbC2dEfGhIjKlMn" }),
    failure_code: nullableString("card_declined"),
    requested_by: z.string().openapi({ example: "adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
    created_at: DateTimeSchema,
  })).openapi({ description: "retry attempts on this payment (GET /retries/{id})" }),
}).openapi("TransactionActivity", {
  description: "what was done about this payment, oldest first; each item's detail is at its route",
});

const show = adminRoute({ permission: "transactions.read" }, {
  method: "get",
  path: "/transactions/{id}",
  tags: ["transactions"],
  summary: "One transaction, by its id or its PaymentIntent/Charge id",
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      TransactionSchema.extend({
        fraud_alerts: z.array(z.object({
          id: z.string(),
          rule: z.string(),
          severity: z.string(),
          status: z.string(),
        })).openapi({ description: "the fraud alerts this payment is a hit of (any status)" }),
        activity: ActivitySchema,
      }).openapi("TransactionDetail"),
      "the transaction",
    ),
    ...errorResponses("not_found"),
  },
});

/**
 * A transaction named as operators find it: our `txn_…`, or the PaymentIntent
 * or Charge id Stripe shows (`pi_…`, `ch_…`); 404 when none is known.
 */
export async function transactionIdOf(services: Services, ref: string): Promise<string> {
  return ref.startsWith("txn_") ? ref : (await services.transactions.get(ref)).id;
}

/** `transactionIdOf` for an id sent in `field` (`body.transaction_id`): a 404 names the field. */
export async function transactionIdAt(
  services: Services,
  ref: string,
  field: string,
): Promise<string> {
  try {
    return await transactionIdOf(services, ref);
  } catch (error) {
    if (error instanceof AppError && error.code === "not_found") {
      throw unknownTransaction(ref, field);
    }
    throw error;
  }
}

/**
 * For a list filter (checked a transaction's id by its schema): the transaction's id when `ref`
 * names one, else `ref` (an empty list: a well-formed id of a payment not known here).
 */
export async function transactionFilterOf(services: Services, ref: string): Promise<string> {
  try {
    return await transactionIdOf(services, ref);
  } catch (error) {
    if (error instanceof AppError && error.code === "not_found") return ref;
    throw error;
  }
}

export function transactionRoutes(services: Services) {
  return createRouter()
    .openapi(list, async (c) => {
      const q = c.req.valid("query");
      const page = await services.transactions.list({
        limit: q.limit,
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        ...(q.customer !== undefined ? { customer: q.customer } : {}),
        ...(q.status !== undefined ? { status: q.status } : {}),
        ...(q.from !== undefined ? { from: Date.parse(q.from) } : {}),
        ...(q.to !== undefined ? { to: Date.parse(q.to) } : {}),
      });
      return c.json(page, 200);
    })
    .openapi(show, async (c) => {
      const { id } = c.req.valid("param");
      const txn = await services.transactions.get(id);
      const alerts = await services.fraud.alertsOfTransaction(txn.id);
      const fraud_alerts = alerts.map((a) => ({
        id: a.id,
        rule: a.rule,
        severity: a.severity,
        status: a.status,
      }));
      const activity = await services.transactions.activity(txn.id);
      return c.json({ ...txn, fraud_alerts, activity }, 200);
    });
}
