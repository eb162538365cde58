/** The dispute workbench's OpenAPI schemas (routes/disputes.ts uses them). */
import { z } from "@hono/zod-openapi";
import {
  AmountSchema,
  AssigneeQuery,
  CurrencySchema,
  CursorQuery,
  dateTimeQuery,
  DateTimeSchema as DateTime,
  LimitQuery,
  oneOf,
  typedText,
} from "../openapi/schemas.ts";
import { CUSTOMER, DISPUTE, idPath, idQuery, STRIPE_DISPUTE } from "../openapi/ids.ts";
import { DISPUTE_PHASES, DISPUTE_STATUSES } from "../domain/dispute.ts";
import {
  EVIDENCE_CHAR_BUDGET,
  EVIDENCE_FILE_FIELDS,
  EVIDENCE_FILE_ID,
  EVIDENCE_TEXT_FIELDS,
} from "../domain/dispute_evidence.ts";
import { EnhancedEvidenceSchema } from "../services/disputes/evidence_rules.ts";
import { conditionHeaderProblem } from "../services/disputes/draft_precondition.ts";

export const DisputeSchema = z.object({
  id: z.string().openapi({ example: "dsp_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  stripe_dispute: z.string().openapi({ example: "du_1QxYz" }),
  transaction_id: z.string(),
  customer: z.string().nullable(),
  status: z.string().openapi({
    description: "Stripe's status: `warning_needs_response`, `warning_under_review`, " +
      "`warning_closed` (inquiries), `needs_response`, `under_review`, `won`, `lost`, " +
      "`prevented`, `appeal_needs_response`, `appeal_under_review`",
  }),
  phase: z.enum(DISPUTE_PHASES).openapi({
    description: "the workbench's phase: `needs_response`, `drafting`, `submitted`, `won`, " +
      "`lost`, `closed`",
  }),
  reason: z.string().openapi({ example: "fraudulent" }),
  amount: AmountSchema,
  currency: CurrencySchema,
  evidence_due_by: DateTime.nullable().openapi({
    description: "null when Stripe allows no response (accept or add notes only)",
  }),
  time_left_s: z.number().int().nullable().openapi({
    description: "seconds to the deadline; negative once past; null once the evidence is " +
      "submitted or the dispute is closed (the deadline no longer asks anything)",
  }),
  past_due: z.boolean(),
  overdue: z.boolean().openapi({ description: "marked by the reminder job past the deadline" }),
  has_evidence: z.boolean(),
  submission_count: z.number().int(),
  submission_method: z.string().nullable().openapi({
    description: "Stripe's `evidence_details.submission_method` (`manual`, `smart_disputes`, …)",
  }),
  is_charge_refundable: z.boolean(),
  funds_withdrawn: AmountSchema,
  funds_reinstated: AmountSchema,
  fee: AmountSchema.openapi({ description: "Stripe's dispute fees net of any returned" }),
  assignee: z.string().nullable(),
  created_at: DateTime,
  updated_at: DateTime,
  actions: z.array(z.string()).openapi({
    description: "what you may do now, of what your role may do (support: `evidence`, " +
      "`notes`; operator+: also `submit`, `accept`; viewer: nothing): `evidence` and " +
      "`submit` (with a draft holding evidence) until `evidence_due_by`, `accept` (not while " +
      "a request for it waits or a close is in flight), `notes`",
  }),
}).openapi("Dispute");

const Checklist = z.array(z.object({ field: z.string(), provided: z.boolean() }));

export const DisputeDetailSchema = DisputeSchema.extend({
  no_response_allowed: z.boolean(),
  evidence: z.record(z.string(), z.unknown()).nullable().openapi({
    description: "the evidence draft",
  }),
  evidence_budget: z.object({
    used: z.number().int(),
    remaining: z.number().int(),
    limit: z.number().int(),
  }),
  checklist: Checklist.openapi({ description: "the fields that matter for this reason" }),
  draft: z.object({
    hash: z.string(),
    chunks: z.number().int(),
    version: z.number().int().optional().openapi({ description: "counts the saves" }),
    fields: z.array(z.string()),
    chars: z.number().int(),
    updated_at: DateTime,
    updated_by: z.string(),
    staged: z.boolean().openapi({
      description: "Stripe holds this draft (sent with submit=false)",
    }),
    stage_error: z.string().nullable().openapi({
      description: "why this draft is not staged and what to do: a stage that failed, was " +
        "lost, or was overtaken by newer saves in every round says to save the same draft " +
        "again (which stages it again)",
    }),
    stage_error_field: z.string().nullable().optional().openapi({
      description: "the evidence field Stripe refused in this draft's stage (a file id it does " +
        "not know): `submit` is not offered, and is 422 on it, until the field is mended " +
        "(`POST …/files`) or removed",
    }),
  }).nullable(),
  submission: z.object({
    round: z.number().int(),
    attempt: z.number().int(),
    state: z.enum(["processing", "submitted", "failed"]),
    stripe_idempotency_key: z.string(),
    requested_by: z.string(),
    requested_at: DateTime,
    draft_hash: z.string().optional().openapi({
      description: "the `draft.hash` submitted; the same admin's submit of it again answers " +
        "this submission",
    }),
    sent_at: DateTime.nullable(),
    settled_at: DateTime.nullable(),
    failure: z.string().nullable(),
    job: z.object({ id: z.string(), due_at: DateTime }).nullable(),
  }).nullable(),
  closing: z.object({
    state: z.enum(["processing", "closed", "failed"]),
    attempt: z.number().int(),
    stripe_idempotency_key: z.string(),
    requested_by: z.string(),
    requested_at: DateTime,
    approval_id: z.string().nullable(),
    settled_at: DateTime.nullable(),
    failure: z.string().nullable(),
    job: z.object({ id: z.string(), due_at: DateTime }).nullable(),
  }).nullable().openapi({
    description: "the close at Stripe after an accept's go-ahead: `processing` until Stripe's " +
      "answer, its webhook or reconciliation settles it",
  }),
  accept_request: z.object({
    requested_by: z.string(),
    note: z.string(),
    requested_at: DateTime,
    approval_id: z.string().optional().openapi({
      description: "the `dispute.accept` request in `/api/admin/approvals`",
    }),
    status: z.string().openapi({
      description: "the request's state in the approvals queue: `pending` (accept is not " +
        "offered meanwhile), `approved`, `executed`, `failed`, `rejected` or `expired`",
    }),
  }).nullable().openapi({ description: "the last accept request for a second person" }),
  reminders: z.record(z.string(), z.string()).openapi({
    description: "ops alert ids of the deadline reminders raised (`72h`, `24h`)",
  }),
  notes: z.array(z.object({ id: z.string(), at: DateTime, by: z.string(), text: z.string() })),
  history: z.array(z.object({
    at: DateTime,
    by: z.string(),
    action: z.string(),
    changes: z.record(z.string(), z.unknown()),
  })),
}).openapi("DisputeDetail");

const textField = z.unknown().optional().openapi({ type: "string", description: "text" });
// the service's own check (`EVIDENCE_FILE_ID`), so a refusal names the field and where to get one
const fileField = z.unknown().optional().openapi({
  type: "string",
  pattern: EVIDENCE_FILE_ID.source,
  description: "a file id (`file_…`) from `POST /disputes/{id}/files`",
});

/** The JSON Schema of what the service takes as `enhanced_evidence` (no `$schema`: it is nested). */
function enhancedEvidenceShape(): Record<string, unknown> {
  const { $schema: _, ...shape } = z.toJSONSchema(EnhancedEvidenceSchema, { io: "input" });
  return shape;
}

/**
 * Documented field by field; checked by the service so every bad field is named at once. Not
 * masked as the notes people type are (`typedText`): evidence is the merchant's submission to the
 * card network, sent to Stripe as written, where an email in `customer_email_address` is the point
 * (README, "Security").
 */
export const EvidenceBody = z.object({
  ...Object.fromEntries(EVIDENCE_TEXT_FIELDS.map((f) => [f, textField])),
  ...Object.fromEntries(EVIDENCE_FILE_FIELDS.map((f) => [f, fileField])),
  // checked by the service with the rest of the draft (every bad field named at once); the
  // document shows the shape it checks, closed at every level as it is
  enhanced_evidence: z.unknown().optional().openapi({
    ...enhancedEvidenceShape(),
    description: "`visa_compelling_evidence_3` (`disputed_transaction`, " +
      "`prior_undisputed_transactions`), `visa_compliance`, `mastercard_compliance`, as Stripe's API",
  }),
}).strict().openapi("DisputeEvidence", {
  example: {
    customer_name: "Jane Roe",
    customer_email_address: "jane@example.com",
    uncategorized_text: "The customer signed in from their usual device and downloaded the order.",
  },
  description: `the whole draft (absent or null fields are removed); at most ` +
    `${EVIDENCE_CHAR_BUDGET} characters of text in all`,
});

export const SyncSummarySchema = z.object({
  seen: z.number().int().openapi({ description: "disputes read from Stripe" }),
  changed: z.number().int().openapi({
    description: "of those, the ones that changed something here (0: all were known already)",
  }),
  pages: z.number().int().openapi({
    description: "list pages read from Stripe (0 when one dispute was asked for)",
  }),
  dispute_id: z.string().nullable().openapi({
    description: "Stripe's id (`du_…`) of the one dispute pulled, also when it was asked for " +
      "by ours (`dsp_…`); null when every dispute was",
    example: "du_1QxYz",
  }),
}).openapi("DisputeSyncSummary");

export const IdParam = idPath([DISPUTE, STRIPE_DISPUTE], "dsp_01JD3Y8Z6QKQ2X5N7S9V4W1T0R");

export const Text = (what: string) =>
  typedText(
    z.string().trim().min(1, `${what} is required (1 to 2000 characters)`).max(
      2000,
      `${what} is at most 2000 characters`,
    ),
    what,
  );

export const ListQuery = z.object({
  status: oneOf("status", DISPUTE_STATUSES).optional().openapi({
    param: { name: "status", in: "query" },
  }),
  phase: z.enum(DISPUTE_PHASES, { error: `phase must be one of ${DISPUTE_PHASES.join(", ")}` })
    .optional().openapi({ param: { name: "phase", in: "query" } }),
  due_before: dateTimeQuery(
    "due_before",
    "only disputes still answerable and due before this, soonest first",
  ),
  assignee: AssigneeQuery,
  customer: idQuery("customer", [CUSTOMER], "a Stripe customer id, e.g. `cus_R2d2C3po`"),
  limit: LimitQuery,
  cursor: CursorQuery,
});

export const IdempotencyHeader = z.object({
  "idempotency-key": z.string().min(1, "Idempotency-Key must be 1 to 255 characters")
    .max(255, "Idempotency-Key must be 1 to 255 characters").optional().openapi({
      param: { name: "idempotency-key", in: "header" },
    }),
});

/** A condition header: `*` or entity tags (the quoted `draft.hash`), else 422 naming it. */
function conditionHeader(name: "If-Match" | "If-None-Match") {
  return z.string().min(1).max(2000).superRefine((value, ctx) => {
    const problem = conditionHeaderProblem(name, value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
}

/**
 * The conditions of an evidence save or upload (README "Dispute workbench", Editing together):
 * the draft's tag is its `draft.hash` in quotes, as the save or upload answers it in `ETag`.
 */
export const DraftConditionHeaders = z.object({
  "if-match": conditionHeader("If-Match").optional().openapi({
    param: { name: "if-match", in: "header" },
    description: 'the draft this change was made from: `"<draft.hash>"` as the dispute ' +
      "shows it (or the `ETag` of the last save's or upload's answer); when the draft changed " +
      "since, the change is `412 precondition_failed` naming who changed it and when, nothing " +
      "written. Without it the last change wins. The weak `ETag` of GET never matches (it " +
      "tags the whole answer). A value that is no entity tag (the hash without its double " +
      "quotes) is `422` on the header, nothing written",
    example: '"9b74c9897bac770ffc029102a200c5de"',
  }),
  "if-none-match": conditionHeader("If-None-Match").optional().openapi({
    param: { name: "if-none-match", in: "header" },
    description: "`*`: change the draft only if the dispute has no draft yet (else `412`)",
    example: "*",
  }),
});
