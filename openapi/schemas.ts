/**
 * Shared OpenAPI schemas: pages, money, notes, the records several routes
 * show, and (from error_responses.ts) the problem document and the error
 * responses every route declares.
 */
import { maskString } from "../core/log.ts";
import { plainTextProblem } from "../domain/text.ts";
import { z } from "@hono/zod-openapi";
import { REFUND_REASONS, REFUND_STATUSES } from "../domain/refund.ts";
import { ROLES } from "../domain/permissions.ts";
import { WEBHOOK_EVENT_STATUSES, WEBHOOK_IGNORED_REASONS } from "../domain/webhook_event.ts";
import { APPROVAL_POLICY, APPROVAL_STATUSES } from "../domain/approval.ts";

export {
  errorResponses,
  ProblemSchema,
  REFUND_SEND_REFUSALS,
  stripeCallErrors,
} from "./error_responses.ts";

/** Integer amount in the currency's minor unit (cents for usd), as Stripe does. */
export const AmountSchema = z.number().int().openapi({
  description: "amount in the currency's minor unit (e.g. cents)",
  example: 2500,
});

export const CurrencySchema = z.string().regex(
  /^[a-z]{3}$/,
  "currency must be a lowercase ISO 4217 code such as usd",
)
  .openapi({ example: "usd" });

export const LimitQuery = z.coerce.number().int().min(1, "limit must be between 1 and 100").max(
  100,
  "limit must be between 1 and 100",
).default(25).openapi({ param: { name: "limit", in: "query" }, example: 25 });

export const CursorQuery = z.string().min(1).max(2000).optional().openapi({
  param: { name: "cursor", in: "query" },
  description: "opaque `next_cursor` of the previous page",
});

/**
 * An optional ISO 8601 date-time query parameter (`from`, `to`) with a message saying the format.
 * Its example is what Swagger UI's "Try it out" sends: give `from` and `to` ones that make a
 * valid range (from before to), or none.
 */
export function dateTimeQuery(name: string, description: string, example?: string) {
  return z.iso.datetime({
    offset: true,
    error: `${name} must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z`,
  }).optional().openapi({
    param: { name, in: "query" },
    description: `${description}, e.g. \`2026-01-31T00:00:00Z\``,
    ...(example === undefined ? {} : { example }),
  });
}

export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({
    data: z.array(item),
    next_cursor: z.string().nullable(),
  }).openapi(name);
}

/**
 * Why someone did something, kept with the record and in the audit log:
 * required, 1 to 500 characters. A card number, key or token typed into it is
 * masked before it is stored anywhere (README, "Security").
 */
/**
 * `schema` refusing what is not plain text (`plainTextProblem`: control
 * characters, broken Unicode) as a 422 naming `what` and the fix.
 */
export function plainText(schema: z.ZodString, what: string): z.ZodString {
  return schema.refine((v) => plainTextProblem(v) === null, {
    error: (issue) => `${what} ${plainTextProblem(String(issue.input))}`,
  });
}

export const NoteSchema = plainText(
  z.string().trim().min(1, "note is required (1 to 500 characters)").max(
    500,
    "note is at most 500 characters",
  ).overwrite(maskString),
  "note",
);

/**
 * The hash an approver sends back, of what they reviewed (64 lowercase hex): `source` says
 * where it is shown; anything else is 422 saying so, a hash of something else 409.
 */
export function approvalHashField(source: string, description: string) {
  return hashOf(source).optional().openapi({ description });
}

/** The same, required: `missing` is what a request without it is told (where to get it). */
export function requiredApprovalHashField(source: string, description: string, missing: string) {
  return hashOf(source, missing).openapi({ description, example: APPROVAL_HASH_EXAMPLE });
}

/** An example hash: well-formed, and of nothing (README "API": examples are harmless). */
const APPROVAL_HASH_EXAMPLE = "9f2c4e1a".repeat(8);

function hashOf(source: string, missing?: string) {
  return z.string({
    error: (iss) => (iss.input === undefined && missing ? missing : undefined),
  }).regex(/^[0-9a-f]{64}$/, `approval_hash must be ${source} (64 lowercase hex characters)`);
}

/**
 * What a path id of ours (`prefix` and a 26-character ULID) that is not in that form is told: a
 * copy cut short or lower-cased, or a made-up one, already starts with the prefix, so the message
 * gives the whole form and where such ids are shown.
 */
export function ourIdMessage(what: string, prefix: string, shownBy: string): string {
  return `id must be ${what}: ${prefix}_ and 26 digits and capital letters, as ${shownBy} ` +
    "shows it";
}

/** A JSON request body of `schema`, required unless said otherwise. */
export function jsonBody<T extends z.ZodType>(schema: T, required = true) {
  return { required, content: { "application/json": { schema } } };
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export const DateTimeSchema = z.string().openapi({ format: "date-time" });

/**
 * A refund as the API shows it (internals such as the Stripe idempotency key
 * left out). The refunds service builds its views from this schema's fields.
 */

export const RefundSchema = z.object({
  id: z.string().openapi({ example: "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  transaction_id: z.string().openapi({ example: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  amount: AmountSchema,
  currency: CurrencySchema,
  reason: z.enum(REFUND_REASONS).nullable(),
  note: z.string(),
  status: z.enum(REFUND_STATUSES).openapi({
    description: "`awaiting_approval` (reserved, nothing sent), `processing` (sent, outcome not " +
      "known yet: reconciliation finishes it), then Stripe's `pending`, `requires_action`, " +
      "`succeeded`, `failed`, `canceled`; or `rejected` / `expired` (never sent)",
  }),
  requested_by: z.string().openapi({
    description: "admin id, or `stripe_dashboard` for a refund made outside this service",
  }),
  approved_by: z.string().nullable(),
  rejected_by: z.string().nullable(),
  decision_note: z.string().nullable(),
  stripe_refund: z.string().nullable().openapi({ example: "re_3QxYz" }),
  stripe_status: z.string().nullable(),
  failure_reason: z.string().nullable(),
  fraud_alert_id: z.string().nullable(),
  approval: z.object({
    required: z.boolean(),
    reasons: z.array(z.string()).openapi({ description: "`threshold`, `daily_cap`" }),
    detail: z.string().nullable().openapi({
      description: "why, in words: what the requester's refunds of 24 h add up to against the " +
        "threshold or the daily cap; null when no approval is needed",
      example: "threshold: 1.00 USD with the requester's other refunds of 24 h on this " +
        "payment, its customer or its card (1,200.00 USD) is 1,201.00 USD, at or above 500.00 USD",
    }),
    hash: z.string().nullable().openapi({
      description: "SHA-256 of transaction, amount, currency and reason: what an approval approves",
    }),
    expires_at: DateTimeSchema.nullable(),
  }),
  created_at: DateTimeSchema,
  updated_at: DateTimeSchema,
  settled_at: DateTimeSchema.nullable(),
}).openapi("Refund");

export const RefundDetailSchema = RefundSchema.extend({
  history: z.array(z.object({
    at: DateTimeSchema,
    status: z.enum(REFUND_STATUSES),
    by: z.string(),
    note: z.string().nullable(),
  })),
}).openapi("RefundDetail");

const roleError = `role must be one of ${ROLES.join(", ")}`;
export const RoleSchema = z.enum(ROLES, { error: roleError }).openapi({ example: "operator" });
export const AdminStatusSchema = z.enum(["active", "disabled"], {
  error: "status must be active or disabled",
});

/** An admin as the API shows it (`/users`, `/me`). */
export const AdminSchema = z.object({
  id: z.string().openapi({ example: "adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  email: z.string().openapi({ example: "ops@example.com" }),
  role: RoleSchema,
  status: AdminStatusSchema,
  created_at: DateTimeSchema,
  updated_at: DateTimeSchema,
  created_by: z.string().openapi({ description: "admin id, or a system actor such as `cli`" }),
}).openapi("Admin");

/** A string that may be null, with an example. */
export const nullableString = (example?: string) => z.string().nullable().openapi({ example });

export const PaymentMethodSchema = z.object({
  type: z.string().openapi({ example: "card" }),
  brand: nullableString("visa"),
  last4: nullableString("4242"),
  fingerprint: nullableString("Xt5EWLLDS7FJjR1c"),
}).openapi("PaymentMethodSummary");

/** A Stripe event as the intake log shows it (`/webhook-events`). */
export const WebhookEventSchema = z.object({
  id: z.string().openapi({ example: "evt_1Q2w3E4r5T6y7U8i" }),
  type: z.string().openapi({ example: "payment_intent.succeeded" }),
  created: z.number().int().openapi({ description: "Stripe's `created`, unix seconds" }),
  livemode: z.boolean(),
  api_version: z.string().nullable(),
  received_at: DateTimeSchema,
  status: z.enum(WEBHOOK_EVENT_STATUSES).openapi({
    description: "`received` (processing), `processed`, `ignored` (acknowledged, nothing " +
      "applied: see `ignored_reason`), `failed` (a retry is scheduled), `dead` (retries used up; " +
      "replay it)",
  }),
  ignored_reason: z.enum(WEBHOOK_IGNORED_REASONS).nullable().openapi({
    description: "why an `ignored` event was not applied (null otherwise): " +
      "`livemode_mismatch` (its livemode is not the mode of the service's key: check which " +
      "endpoint's secret is in STRIPE_WEBHOOK_SECRETS), `not_processed` (a type or object the " +
      "service does not process), `no_change` (the local picture already showed it: an older " +
      "state, a duplicate)",
  }),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  detail: z.string().nullable().openapi({ description: "what processing did" }),
  processed_at: DateTimeSchema.nullable(),
  object: z.object({ id: z.string().nullable(), type: z.string().nullable() }),
  payload_bytes: z.number().int(),
}).openapi("WebhookEvent");

/** A two-person request (`/approvals`). */
const KINDS = Object.keys(APPROVAL_POLICY) as [string, ...string[]];

export const ApprovalSchema = z.object({
  id: z.string().openapi({
    example: "apr_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
    description: "`apr_…`, or a refund's `rfd_…` for a refund awaiting approval",
  }),
  kind: z.enum(KINDS),
  status: z.enum(APPROVAL_STATUSES).openapi({
    description: "`pending`, then `approved` (executing), `executed` or `failed`; or " +
      "`rejected` / `expired`",
  }),
  payload: z.record(z.string(), z.unknown()),
  summary: z.string(),
  target: z.object({ type: z.string(), id: z.string() }).nullable(),
  requested_by: z.string(),
  approval_hash: z.string().openapi({ description: "send it back to approve what you saw" }),
  created_at: DateTimeSchema,
  expires_at: DateTimeSchema,
  decided_by: z.string().nullable(),
  decided_at: DateTimeSchema.nullable(),
  decision_note: z.string().nullable(),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: z.string().nullable(),
  handover: z.record(z.string(), z.unknown()).optional().openapi({
    description: "in the approver's answer only, never stored: an enrollment code to hand to " +
      "the person concerned (credential resets)",
  }),
}).openapi("ApprovalRequest");

/**
 * A named (registered) schema or null. `.nullable()` on a named schema loses
 * the null in the document (it becomes a bare `$ref`); a union keeps it as
 * `anyOf: [$ref, {type: "null"}]`.
 */
export function orNull<T extends z.ZodType>(schema: T) {
  return z.union([schema, z.null()]);
}

/** One of `values`; anything else is refused naming the field and every allowed value. */
export function oneOf<const T extends readonly [string, ...string[]]>(field: string, values: T) {
  return z.enum(values, { error: `${field} must be one of ${values.join(", ")}` });
}

/** The OpenAPI metadata of a query parameter called `name`. */
export function queryParam(name: string) {
  return { param: { name, in: "query" as const } };
}

const ASSIGNEE_HINT = "assignee takes an admin's id, adm_… (as GET /api/admin/users shows it; " +
  "your own is on GET /api/admin/me), or me for your own";

/**
 * A list's `assignee` filter: an `adm_…` id, or `me` for the caller's own (the route resolves
 * it); anything else (an email, a name) would match nothing, so it is refused naming the field.
 */
export const AssigneeQuery = z.string().max(64, ASSIGNEE_HINT)
  .refine((v) => v === "me" || /^adm_[0-9A-Za-z]+$/.test(v), { message: ASSIGNEE_HINT })
  .optional().openapi({
    ...queryParam("assignee"),
    description: "an admin's `adm_…` id, or `me` for the caller's own",
    example: "me",
  });
