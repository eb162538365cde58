/**
 * The records several routes show, as OpenAPI schemas: a refund, an admin,
 * a payment method, a Stripe event of the intake log, a two-person request.
 * Money, dates and the other shared pieces: schemas.ts.
 */
import { z } from "@hono/zod-openapi";
import { REFUND_REASONS, REFUND_STATUSES } from "../domain/refund.ts";
import { ROLES } from "../domain/permissions.ts";
import { WEBHOOK_EVENT_STATUSES, WEBHOOK_IGNORED_REASONS } from "../domain/webhook_event.ts";
import { APPROVAL_POLICY, APPROVAL_STATUSES } from "../domain/approval.ts";
import { AmountSchema, CurrencySchema, DateTimeSchema, nullableString } from "./schemas.ts";

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
  confirm_duplicate: z.boolean().openapi({
    description: "the requester sent `confirm_duplicate: true`: refund again although a like " +
      "refund of theirs on this payment was recent (false on refunds asked before it was kept)",
  }),
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
      description: "what an approval approves: SHA-256 of this refund (its id) and what an " +
        "approver reads of it (payment, amount, currency, reason, note, requester, " +
        "`fraud_alert_id`, `confirm_duplicate`, the approval's reasons and detail), so no other " +
        "refund's hash approves it; send it back as `approval_hash`",
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
  attempts: z.number().int().openapi({
    description: "processing attempts so far, each counted once: the one right after arrival, " +
      "retries and replays, failed ones included (also one that failed after another processed " +
      "the event)",
  }),
  last_error: z.string().nullable().openapi({
    description: "why the event is `failed` or `dead` (or was, for one an admin dismissed); " +
      "null once `processed`: an attempt failing after the event was processed or ignored (a " +
      "forced replay, an attempt that overlapped the one that processed it) leaves it as it " +
      "was. A replay's own error is in `last_replay`",
  }),
  detail: z.string().nullable().openapi({ description: "what processing did" }),
  processed_at: DateTimeSchema.nullable(),
  object: z.object({ id: z.string().nullable(), type: z.string().nullable() }),
  payload_bytes: z.number().int(),
  last_replay: z.object({
    by: z.string().openapi({ description: "the admin who sent it" }),
    at: DateTimeSchema.openapi({ description: "when it processed the event, or failed" }),
    force: z.boolean(),
    result: z.enum(["ok", "failed"]),
    error: z.string().nullable().openapi({
      description: "why it failed (null when `ok`); a failed replay leaves `status`, and a " +
        "processed event's null `last_error`, as they were",
    }),
  }).nullable().openapi({ description: "the last replay (`POST …/replay`), or null: none yet" }),
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
  approval_hash: z.string().openapi({
    description: "send it back to approve what you saw: SHA-256 of this request (its id) with " +
      "its `kind`, `payload`, `target`, `requested_by` and `summary`, so no other request's " +
      "hash approves it",
  }),
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
