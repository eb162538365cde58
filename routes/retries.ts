/**
 * /retries (mounted under /api/admin/payments): retry a failed payment with
 * another payment method (operator+, 2FA, optional `Idempotency-Key`), list
 * and read the attempts (viewer+), and the customer's saved payment methods
 * to choose from (viewer+).
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { showRoute } from "./show_route.ts";
import { CUSTOMER, idField, idPath, idQuery, ours, TRANSACTION_REF } from "../openapi/ids.ts";
import { listRoute } from "./list_route.ts";
import { callContext } from "./context.ts";
import {
  CursorQuery,
  DateTimeSchema as DateTime,
  errorResponses,
  jsonContent,
  LimitQuery,
  orNull,
  pageSchema,
  typedText,
} from "../openapi/schemas.ts";
import { RETRY_STATUSES, type RetryView } from "../services/retries/mod.ts";
import { can } from "../domain/permissions.ts";
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import type { Services } from "../services/mod.ts";
import { transactionFilterOf, transactionIdAt } from "./transactions.ts";

const CardSchema = z.object({
  type: z.string(),
  brand: z.string().nullable(),
  last4: z.string().nullable(),
  exp_month: z.number().int().nullable(),
  exp_year: z.number().int().nullable(),
  fingerprint: z.string().nullable(),
}).openapi("RetryCard");

const RetrySchema = z.object({
  id: z.string().openapi({ example: "rty_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  transaction_id: z.string(),
  customer: z.string(),
  stripe_payment_intent: z.string(),
  payment_method: z.string().openapi({
    description: "the `pm_…` confirmed, saved on the customer",
  }),
  requested_payment_method: z.string().openapi({ description: "what was sent (`pm_card_visa`…)" }),
  card: orNull(CardSchema),
  off_session: z.boolean(),
  note: z.string().nullable(),
  confirm_fraud_alert: z.boolean(),
  status: z.enum(RETRY_STATUSES).openapi({
    description: "`processing` (sent, outcome not known yet: the webhook or reconciliation " +
      "finishes it), `succeeded`, `requires_action` (the customer must authenticate: " +
      "`next_action`, `client_secret`), `requires_capture` (a manual-capture payment " +
      "authorized, nothing charged until it is captured), `failed` (the decline, or closed by " +
      "this service: `failure_code` says which), `canceled` (the authorization was released: " +
      "nothing charged). `succeeded`, `requires_capture` and `requires_action` are only ever " +
      "with the attempt's own payment method: a payment that went ahead with another closes " +
      "it `failed`, `superseded`",
  }),
  stripe_status: z.string().nullable(),
  failure_code: z.string().nullable().openapi({
    description: "Stripe's code, or this service's close where the card declined nothing: " +
      "`stripe_unavailable`, `not_confirmed`, `not_received_by_stripe`, " +
      "`payment_intent_unexpected_state`, `payment_intent_canceled`, `superseded` (the payment " +
      "was paid, authorized or tried at Stripe with another payment method meanwhile: nothing " +
      "charged by this attempt, not counted)",
  }),
  decline_code: z.string().nullable(),
  advice_code: z.string().nullable(),
  failure_message: z.string().nullable(),
  next_step: z.string().nullable().openapi({
    description: "what support does next (bring the customer back, another card, wait; while " +
      "`processing`, follow the attempt rather than retry); null when nothing is left to do",
  }),
  next_action: z.unknown().nullable().openapi({ description: "Stripe's `next_action`" }),
  client_secret: z.string().nullable().openapi({
    description: "for the merchant's own checkout to finish a `requires_action` payment; " +
      "shown to those who may retry (operator+), null for others",
  }),
  stripe_charge: z.string().nullable().openapi({
    description: "the charge this attempt made (paid, authorized or declined with its payment " +
      "method); null when it made none (waiting on or failing 3-D Secure, `superseded`), never " +
      "the PaymentIntent's earlier charge",
  }),
  stripe_request_id: z.string().nullable(),
  requested_by: z.string(),
  settled_by: z.string().nullable().openapi({ description: "`answer`, `webhook`, `reconcile`" }),
  created_at: DateTime,
  updated_at: DateTime,
  settled_at: DateTime.nullable(),
}).openapi("Retry");

const IdempotencyHeader = z.object({
  "idempotency-key": z.string().min(1, "Idempotency-Key must be 1 to 255 characters")
    .max(255, "Idempotency-Key must be 1 to 255 characters").optional().openapi({
      param: { name: "idempotency-key", in: "header" },
      description: "same key + same body replays the first answer (one showing the attempt " +
        "`processing`: the attempt as it stands, the key's answer once settled); a different body " +
        "is refused",
    }),
});

const CreateBody = z.object({
  transaction_id: idField("transaction_id", TRANSACTION_REF).openapi({
    description: "the transaction's txn_… id, or its PaymentIntent or Charge id (pi_…, ch_…)",
    example: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
  }),
  payment_method: z.string().regex(
    /^pm_[A-Za-z0-9_]{1,64}$/,
    "payment_method must be a payment method id (pm_…), or in test mode a test id such as pm_card_visa",
  ).openapi({ example: "pm_card_visa" }),
  note: typedText(z.string().trim().max(500, "note is at most 500 characters"), "note")
    .optional(),
  off_session: z.boolean().optional().openapi({
    description: "true (default): the customer is absent; false: on session, a card that needs " +
      "authentication answers `requires_action`",
  }),
  confirm_fraud_alert: z.boolean().optional().openapi({
    description: "required (with a note) when the customer has an open fraud alert",
  }),
}).strict().openapi("RetryRequest", {
  example: {
    transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
    payment_method: "pm_card_visa",
    note: "The customer gave another card",
  },
});

const create = adminRoute({ permission: "retries.create", secondFactor: true }, {
  method: "post",
  path: "/retries",
  tags: ["retries"],
  summary: "Retry a failed payment with another payment method, once",
  description: "Confirms the same PaymentIntent again. The attempt is recorded before Stripe is " +
    "called and the retry policy (README) is checked first; whatever Stripe answers, the attempt " +
    "is the answer. A payment Stripe shows as no longer waiting for a payment method (paid or " +
    "canceled there before its news arrived here) is 409 with `payment_intent_status` as Stripe " +
    "has it, and the transaction read from Stripe.",
  request: {
    headers: IdempotencyHeader,
    body: { required: true, content: { "application/json": { schema: CreateBody } } },
  },
  responses: {
    201: jsonContent(
      RetrySchema,
      "Stripe answered: succeeded, requires_action, requires_capture or failed",
    ),
    202: jsonContent(RetrySchema, "sent; the outcome is not known yet"),
    ...errorResponses(
      "not_found",
      "conflict",
      "retry_refused",
      "payment_method_not_allowed",
      "idempotency_key_reused",
      "stripe_error",
      "stripe_unavailable",
    ),
  },
});

const list = listRoute({
  permission: "retries.read",
  path: "/retries",
  tags: ["retries"],
  summary: "Retry attempts, newest first",
  filters: {
    transaction_id: idQuery(
      "transaction_id",
      TRANSACTION_REF,
      "the txn_… id, or the payment's pi_… or ch_… id as the Stripe Dashboard shows it (one " +
        "known nowhere lists nothing)",
    ),
    status: z.enum(RETRY_STATUSES, { error: `status must be one of ${RETRY_STATUSES.join(", ")}` })
      .optional().openapi({ param: { name: "status", in: "query" } }),
  },
  item: RetrySchema,
  pageName: "RetryPage",
});

const show = showRoute({
  permission: "retries.read",
  path: "/retries/{id}",
  tags: ["retries"],
  summary: "One retry attempt",
  params: idPath(
    [ours("rty", "a retry id", "GET /api/admin/payments/retries")],
    "rty_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
  ),
  item: RetrySchema,
  found: "the attempt",
});

const SavedPaymentMethodSchema = CardSchema.extend({
  id: z.string(),
  created: DateTime,
  last_used: DateTime.nullable().openapi({
    description: "when a retry last tried it, whatever the card answered (charged, authorized, " +
      "sent for authentication, or declined); null when no retry has (one Stripe refused before " +
      "trying the card, say a rate limit, does not count)",
  }),
}).openapi("SavedPaymentMethod");

const paymentMethods = adminRoute({ permission: "customers.read" }, {
  method: "get",
  path: "/customers/{id}/payment-methods",
  tags: ["customers"],
  summary: "The customer's saved payment methods, to choose one for a retry",
  description: "Newest first, in Stripe's order; one Stripe call per page.",
  request: {
    params: idPath([CUSTOMER], "cus_Example0000000000"),
    query: z.object({ limit: LimitQuery, cursor: CursorQuery }),
  },
  responses: {
    200: jsonContent(pageSchema(SavedPaymentMethodSchema, "SavedPaymentMethodPage"), "a page"),
    ...errorResponses("not_found", "stripe_unavailable"),
  },
});

/**
 * The client secret lets its holder finish the payment: only for those who may retry, and an
 * answer that shows one is a secret answer (`Cache-Control: no-store`, no ETag; README "API").
 */
function forReader(c: Context<AppEnv>, r: RetryView): RetryView {
  const role = c.get("principal")?.role ?? "";
  const shown = can(role, "retries.create") ? r : { ...r, client_secret: null };
  if (shown.client_secret !== null) c.header("Cache-Control", "no-store");
  return shown;
}

export function retryRoutes(services: Services) {
  return createRouter()
    .openapi(create, async (c) => {
      const body = c.req.valid("json");
      const result = await services.retries.create(callContext(c), {
        ...body,
        transaction_id: await transactionIdAt(services, body.transaction_id, "body.transaction_id"),
      });
      if (result.replayed) c.header("Idempotent-Replayed", "true");
      const retry = forReader(c, result.retry);
      // Stripe answered (whatever it said): 201; the outcome not known yet: 202.
      return retry.status === "processing" ? c.json(retry, 202) : c.json(retry, 201);
    })
    .openapi(list, async (c) => {
      const q = c.req.valid("query");
      const txn = q.transaction_id && await transactionFilterOf(services, q.transaction_id);
      const page = await services.retries.list({ ...q, ...(txn ? { transaction_id: txn } : {}) });
      return c.json({ ...page, data: page.data.map((r) => forReader(c, r)) }, 200);
    })
    .openapi(show, async (c) => {
      return c.json(forReader(c, await services.retries.get(c.req.valid("param").id)), 200);
    })
    .openapi(paymentMethods, async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await services.retries.paymentMethods(c.req.valid("param").id, {
        limit,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      return c.json(page, 200);
    });
}
