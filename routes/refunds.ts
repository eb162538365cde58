/**
 * /refunds (mounted under /api/admin/payments): ask for a refund (operator+,
 * 2FA), list and read them (viewer+); approving (2FA) or rejecting one awaiting
 * a second person is routes/refund_decisions.ts. POSTs take an optional `Idempotency-Key`; a replayed answer
 * carries `Idempotent-Replayed: true`, and so does a decision the approver had
 * already made, answered again (README, "Two-person rules").
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { listRoute } from "./list_route.ts";
import { assigneeFilter, callContext } from "./context.ts";
import type { AppEnv } from "./env.ts";
import { errorResponses, jsonBody, jsonContent, NoteSchema } from "../openapi/schemas.ts";
import { RefundDetailSchema, RefundSchema } from "../openapi/record_schemas.ts";
import {
  isUndecided,
  REFUND_REASONS,
  REFUND_STATUSES,
  type RefundResult,
} from "../services/refunds/mod.ts";
import type { Services } from "../services/mod.ts";
import { currencyProblem } from "../domain/currencies.ts";
import { transactionFilterOf, transactionIdAt } from "./transactions.ts";
import {
  ADMIN,
  idField,
  idPath,
  idQuery,
  literal,
  ME,
  REFUND,
  STRIPE_REFUND,
  TRANSACTION_REF,
} from "../openapi/ids.ts";

const reasonError = `reason must be one of ${REFUND_REASONS.join(", ")}`;
const statusError = `status must be one of ${REFUND_STATUSES.join(", ")}`;

export const IdempotencyHeader = z.object({
  "idempotency-key": z.string().min(1, "Idempotency-Key must be 1 to 255 characters")
    .max(255, "Idempotency-Key must be 1 to 255 characters").optional().openapi({
      param: { name: "idempotency-key", in: "header" },
      description: "same key + same body replays the first answer (one showing the refund " +
        "`processing`: the refund as it stands, the key's answer once settled); a different body " +
        "is refused",
    }),
});

export const IdParam = idPath([REFUND], "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R");
const ShowParam = idPath(
  [REFUND, STRIPE_REFUND],
  "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
  "our `rfd_…` id, or the Stripe refund id `re_…`",
);

export const Note = NoteSchema.openapi({ example: "checked with the customer" });

const TOO_LARGE = `amount is too large: at most ${Number.MAX_SAFE_INTEGER} minor units`;

const CreateBody = z.object({
  // spaces around a pasted id are not part of it
  transaction_id: idField("transaction_id", TRANSACTION_REF).openapi({
    description: "the transaction's txn_… id, or its PaymentIntent or Charge id (pi_…, ch_…)",
    example: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
  }),
  amount: z.number({ error: "amount must be a whole number of minor units" })
    // zod's whole-number check also refuses numbers beyond the safe range: that is "too large"
    .int({
      error: (iss) =>
        iss.code === "too_big"
          ? TOO_LARGE
          : iss.code === "too_small"
          ? "amount must be at least 1"
          : "amount must be a whole number of minor units (no fractions)",
    })
    .min(1, "amount must be at least 1").max(Number.MAX_SAFE_INTEGER, TOO_LARGE).optional().openapi(
      {
        description: "minor units; omitted = all that is still refundable",
        example: 2500,
      },
    ),
  currency: z.string().regex(/^[a-zA-Z]{3}$/, "currency must be an ISO code such as usd")
    // the same list as the configuration's currency maps (README, "Refund approval policy")
    .superRefine((code, ctx) => {
      const problem = /^[a-zA-Z]{3}$/.test(code) ? currencyProblem(code) : null;
      if (problem) ctx.addIssue({ code: "custom", message: `currency ${problem}` });
    })
    .optional().openapi({
      description: "when sent, must be the payment's currency",
      example: "usd",
    }),
  reason: z.enum(REFUND_REASONS, { error: reasonError }),
  note: Note,
  confirm_duplicate: z.boolean().optional().openapi({
    description: "refund again although the same refund was asked for in the last 10 minutes",
    example: false,
  }),
}).strict().openapi("RefundRequest", {
  // What "Try it out" sends: no currency to get wrong, and the duplicate guard left on.
  example: {
    transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
    amount: 2500,
    reason: "requested_by_customer",
    note: "customer returned the item",
  },
});

const create = adminRoute({ permission: "refunds.create", secondFactor: true }, {
  method: "post",
  path: "/refunds",
  tags: ["refunds"],
  summary: "Refund a payment (all or part), once",
  description: "Reserves the amount and records the refund before calling Stripe, so money " +
    "moves at most once. At or above `REFUND_APPROVAL_THRESHOLD` (or beyond the operator's daily " +
    "cap) the refund waits for a second person's approval (202).",
  request: {
    headers: IdempotencyHeader,
    body: jsonBody(CreateBody),
  },
  responses: {
    201: jsonContent(RefundDetailSchema, "sent: Stripe answered (pending or succeeded)"),
    202: jsonContent(
      RefundDetailSchema,
      "awaiting approval, or sent with an unknown outcome (reconciliation finishes it)",
    ),
    ...errorResponses(
      "not_found",
      "conflict",
      "duplicate_suspected",
      "amount_exceeds_refundable",
      "charge_not_refundable",
      "idempotency_key_reused",
      "stripe_error",
      "stripe_unavailable",
    ),
  },
});

// README "API": a "who" filter takes an id or `me`; an email or a name would list nothing.
const REQUESTED_BY = [
  ADMIN,
  ME,
  literal("stripe_dashboard", "for refunds made outside this service"),
];

const ListFilters = {
  status: z.enum(REFUND_STATUSES, { error: statusError }).optional().openapi({
    param: { name: "status", in: "query" },
  }),
  transaction_id: idQuery(
    "transaction_id",
    TRANSACTION_REF,
    "the txn_… id, or the payment's pi_… / ch_… id",
  ),
  requested_by: idQuery(
    "requested_by",
    REQUESTED_BY,
    "an admin's `adm_…` id, `me` for the caller's own, or `stripe_dashboard` " +
      "(refunds made outside this service)",
  ),
};

const list = listRoute({
  permission: "refunds.read",
  path: "/refunds",
  tags: ["refunds"],
  summary: "Refunds, newest first",
  filters: ListFilters,
  item: RefundSchema,
  pageName: "RefundPage",
});

const show = adminRoute({ permission: "refunds.read" }, {
  method: "get",
  path: "/refunds/{id}",
  tags: ["refunds"],
  summary: "One refund with its history",
  request: { params: ShowParam },
  responses: {
    200: jsonContent(RefundDetailSchema, "the refund"),
    ...errorResponses("not_found"),
  },
});

export function markReplay(c: Context<AppEnv>, result: RefundResult): void {
  if (result.replayed) c.header("Idempotent-Replayed", "true");
}

export function refundRoutes(services: Services) {
  return createRouter()
    .openapi(create, async (c) => {
      const body = c.req.valid("json");
      const result = await services.refunds.create(callContext(c), {
        ...body,
        transaction_id: await transactionIdAt(services, body.transaction_id, "body.transaction_id"),
        ...(body.currency !== undefined ? { currency: body.currency.toLowerCase() } : {}),
      });
      markReplay(c, result);
      return isUndecided(result.refund.status)
        ? c.json(result.refund, 202)
        : c.json(result.refund, 201);
    })
    .openapi(list, async (c) => {
      const q = c.req.valid("query");
      const txn = q.transaction_id && await transactionFilterOf(services, q.transaction_id);
      const requester = assigneeFilter(c, q.requested_by); // `me` is the caller
      return c.json(
        await services.refunds.list({
          ...q,
          ...(txn ? { transaction_id: txn } : {}),
          ...(requester !== undefined ? { requested_by: requester } : {}),
        }),
        200,
      );
    })
    .openapi(show, async (c) => {
      return c.json(await services.refunds.get(c.req.valid("param").id), 200);
    });
}
