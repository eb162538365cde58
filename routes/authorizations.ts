/**
 * POST /transactions/{id}/capture and /cancel (mounted under
 * /api/admin/payments): finish or release an authorization (a PaymentIntent
 * in `requires_capture`), operator+, 2FA, once; optional `Idempotency-Key`.
 * GET /authorizations/{id} reads one back (an answer of `202 processing`
 * names it in `Location`) until it settles.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { basePath } from "hono/route";
import { adminRoute } from "./admin_route.ts";
import { showRoute } from "./show_route.ts";
import { idPath, ours, TRANSACTION_REF } from "../openapi/ids.ts";
import { callContext } from "./context.ts";
import {
  AmountSchema,
  DateTimeSchema as DateTime,
  jsonBody,
  jsonContent,
  stripeCallErrors,
  typedText,
} from "../openapi/schemas.ts";
import { AUTHORIZATION_ACTION_STATUSES, CANCELLATION_REASONS } from "../services/retries/mod.ts";
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import type { Services } from "../services/mod.ts";
import { transactionIdOf } from "./transactions.ts";

const ActionSchema = z.object({
  id: z.string().openapi({ example: "aut_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  kind: z.enum(["capture", "cancel"]),
  transaction_id: z.string(),
  stripe_payment_intent: z.string(),
  currency: z.string(),
  amount_authorized: AmountSchema,
  amount_to_capture: AmountSchema.nullable(),
  reason: z.enum(CANCELLATION_REASONS).nullable(),
  note: z.string().nullable(),
  status: z.enum(AUTHORIZATION_ACTION_STATUSES).openapi({
    description: "`processing` (sent, outcome not known yet: reconciliation finishes it), " +
      "`succeeded`, `failed` (nothing happened; the authorization may be acted on again)",
  }),
  stripe_status: z.string().nullable(),
  failure_code: z.string().nullable(),
  failure_message: z.string().nullable(),
  stripe_request_id: z.string().nullable(),
  stripe_idempotency_key: z.string(),
  requested_by: z.string(),
  created_at: DateTime,
  updated_at: DateTime,
  settled_at: DateTime.nullable(),
}).openapi("AuthorizationAction");

const IdempotencyHeader = z.object({
  "idempotency-key": z.string().min(1, "Idempotency-Key must be 1 to 255 characters")
    .max(255, "Idempotency-Key must be 1 to 255 characters").optional().openapi({
      param: { name: "idempotency-key", in: "header" },
    }),
});

const TxnParam = idPath(
  TRANSACTION_REF,
  "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
  "the transaction's txn_… id, or the payment's PaymentIntent (pi_…) or Charge (ch_…) id, as " +
    "the Stripe Dashboard shows it",
);

const location = {
  location: {
    description: "where the action is read back: `GET /api/admin/payments/authorizations/{id}`",
    schema: { type: "string" as const },
  },
};

const responses = {
  201: { ...jsonContent(ActionSchema, "Stripe answered"), headers: location },
  202: {
    ...jsonContent(ActionSchema, "sent; the outcome is not known yet: read it at `Location`"),
    headers: location,
  },
  ...stripeCallErrors(),
};

const capture = adminRoute({ permission: "authorizations.manage", secondFactor: true }, {
  method: "post",
  path: "/transactions/{id}/capture",
  tags: ["transactions"],
  summary: "Capture an authorization, all of it or part (the rest is released), once",
  request: {
    params: TxnParam,
    headers: IdempotencyHeader,
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.object({
            amount_to_capture: z.number({ error: "amount_to_capture must be a whole number" })
              .int("amount_to_capture must be a whole number of minor units")
              .min(1, "amount_to_capture must be at least 1").optional().openapi({
                description: "minor units, at most the authorized amount; omitted = all",
              }),
          }).strict().openapi("CaptureRequest"),
        },
      },
    },
  },
  responses,
});

const cancel = adminRoute({ permission: "authorizations.manage", secondFactor: true }, {
  method: "post",
  path: "/transactions/{id}/cancel",
  tags: ["transactions"],
  summary: "Release an authorization, once",
  request: {
    params: TxnParam,
    headers: IdempotencyHeader,
    body: jsonBody(
      z.object({
        reason: z.enum(CANCELLATION_REASONS, {
          error: `reason must be one of ${CANCELLATION_REASONS.join(", ")}`,
        }),
        note: typedText(
          z.string().trim().min(1, "note is required (1 to 500 characters)").max(
            500,
            "note is at most 500 characters",
          ),
          "note",
        ).openapi({ example: "Customer cancelled the order before shipping" }),
      }).strict().openapi("CancelAuthorizationRequest"),
    ),
  },
  responses,
});

const show = showRoute({
  permission: "authorizations.read",
  path: "/authorizations/{id}",
  tags: ["transactions"],
  summary: "One capture or cancel as it stands (`processing` until Stripe's outcome is known)",
  params: idPath(
    [ours("aut", "a capture or cancel id", "the Location of a capture's or cancel's answer")],
    "aut_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
  ),
  item: ActionSchema,
  found: "the capture or cancel",
});

type Answer = Awaited<ReturnType<Services["retries"]["capture"]>>;

export function authorizationRoutes(services: Services) {
  /** 201 when Stripe answered, 202 while its outcome is unknown; `Location` reads it back. */
  const answer = (c: Context<AppEnv>, r: Answer) => {
    if (r.replayed) c.header("Idempotent-Replayed", "true");
    c.header("Location", `${basePath(c)}/authorizations/${r.action.id}`);
    return r.action.status === "processing" ? c.json(r.action, 202) : c.json(r.action, 201);
  };
  return createRouter()
    .openapi(capture, async (c) => {
      const body = c.req.valid("json") ?? {};
      const id = await transactionIdOf(services, c.req.valid("param").id);
      return answer(c, await services.retries.capture(callContext(c), id, body));
    })
    .openapi(cancel, async (c) => {
      const id = await transactionIdOf(services, c.req.valid("param").id);
      return answer(c, await services.retries.cancel(callContext(c), id, c.req.valid("json")));
    })
    .openapi(show, async (c) => {
      return c.json(await services.retries.getAuthorization(c.req.valid("param").id), 200);
    });
}
