/** The fraud routes' schemas: alerts, signals, snoozes, rules, sweeps (README "Fraud detection"). */
import { z } from "@hono/zod-openapi";
import { ALERT_STATUSES, MAX_WINDOW_MINUTES, RULE_NAMES, SEVERITIES } from "../domain/fraud.ts";
import { DateTimeSchema as DateTime, NoteSchema } from "../openapi/schemas.ts";
import { idPath, ours } from "../openapi/ids.ts";

export const RuleEnum = z.enum(RULE_NAMES, {
  error: `rule must be one of ${RULE_NAMES.join(", ")}`,
});
export const SeverityEnum = z.enum(SEVERITIES, {
  error: `severity must be one of ${SEVERITIES.join(", ")}`,
});
export const StatusEnum = z.enum(ALERT_STATUSES, {
  error: `status must be one of ${ALERT_STATUSES.join(", ")}`,
});

export const SignalSchema = z.object({
  rule: RuleEnum,
  level: z.enum(["watch", "alert"]),
  points: z.number(),
  severity: SeverityEnum,
  transaction_id: z.string().nullable(),
  at: DateTime.openapi({ description: "Stripe time of the payment the rule was evaluated at" }),
  rule_version: z.number().int(),
  shadow: z.boolean(),
  evidence: z.record(z.string(), z.unknown()).openapi({
    description: "what made it fire: the counts, the window, the amounts, the ids",
  }),
}).openapi("FraudSignal");

export const AlertSchema = z.object({
  id: z.string().openapi({ example: "fa_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  subject: z.string().openapi({ description: "the customer, or `card:<fingerprint>`" }),
  customer: z.string().nullable(),
  card_fingerprint: z.string().nullable(),
  customers: z.array(z.string()).openapi({
    description: "the cross-customer card-testing alert: the customers the card was declined for",
  }),
  rule: RuleEnum,
  rule_version: z.number().int(),
  severity: SeverityEnum,
  score: z.number(),
  status: StatusEnum,
  assignee: z.string().nullable(),
  signals: z.array(SignalSchema).openapi({ description: "the last 50 hits, oldest first" }),
  hit_count: z.number().int(),
  transactions: z.array(z.string()),
  snapshot: z.record(z.string(), z.unknown()),
  resolution_note: z.string().nullable(),
  history: z.array(z.object({
    at: DateTime,
    by: z.string(),
    from: StatusEnum.nullable(),
    to: StatusEnum,
    assignee: z.string().nullable(),
    note: z.string().nullable(),
  })),
  refunds: z.array(z.string()),
  created_at: DateTime,
  updated_at: DateTime,
}).openapi("FraudAlert");

export const SnoozeSchema = z.object({
  id: z.string(),
  customer: z.string(),
  rule: RuleEnum,
  until: DateTime,
  note: z.string(),
  created_by: z.string(),
  created_at: DateTime,
}).openapi("FraudSnooze");

const CountsMap = z.record(z.string(), z.number().int().min(0));

export const RuleSchema = z.object({
  rule: RuleEnum,
  version: z.number().int(),
  enabled: z.boolean(),
  shadow: z.boolean(),
  window_minutes: z.number().int(),
  watch_at: z.number().nullable(),
  watch_points: z.number(),
  alert_at: z.number().nullable(),
  alert_points: z.number(),
  severity: SeverityEnum,
  amounts: CountsMap,
  watch_amounts: CountsMap,
  extra_at: z.number().nullable(),
  min_ratio: z.number().nullable(),
  updated_at: DateTime.nullable(),
  updated_by: z.string().nullable(),
  currencies: z.object({ configured: z.array(z.string()), note: z.string() }).nullable(),
  shadow_hits: z.number().int().nullable().optional().openapi({
    description: "in shadow mode: the would-be alerts recorded in the last 90 days",
  }),
}).openapi("FraudRule");

/** watch_at, alert_at: whole numbers where the rule counts (a fraction is 422 naming the field) */
const LEVEL = "the level the rule's count reaches (payments, declines, cards, disputes, " +
  "points): a whole number; amount_anomaly's is a robust z and may be fractional";

const amountsMap = z.record(
  z.string().regex(/^[a-z]{3}$/, "currency keys are lowercase ISO codes such as usd"),
  z.number().int("amounts are whole minor units").min(1, "amounts are at least 1"),
);

export const RulePatchSchema = z.object({
  enabled: z.boolean().optional(),
  shadow: z.boolean().optional(),
  window_minutes: z.number().int().min(1).max(
    MAX_WINDOW_MINUTES,
    "window_minutes is at most 90 days",
  )
    .optional(),
  watch_at: z.number().min(0).nullable().optional().openapi({ description: LEVEL }),
  watch_points: z.number().int().min(0).max(100).optional(),
  alert_at: z.number().min(0).nullable().optional().openapi({ description: LEVEL }),
  alert_points: z.number().int().min(0).max(100).optional(),
  severity: SeverityEnum.optional(),
  amounts: amountsMap.optional(),
  watch_amounts: amountsMap.optional(),
  extra_at: z.number().int("extra_at must be a whole number").min(0).nullable().optional()
    .openapi({
      description: "a count (failed_attempts: customers per card; amount_anomaly: earlier " +
        "payments needed; score: the points it is critical from), a whole number",
    }),
  min_ratio: z.number().min(1).nullable().optional(),
}).strict().openapi("FraudRulePatch", {
  description: 'any of the settings, such as `{"alert_at": 8}`; omitted ones keep their ' +
    "value. The example is `{}`, which changes nothing (no new version): sent as is from " +
    "/docs, it only shows the rule",
  example: {},
});

export const SweepSchema = z.object({
  id: z.string(),
  trigger: z.enum(["cron", "manual", "test"]),
  started_by: z.string().nullable().openapi({
    description: "the admin who started a manual run (`POST /fraud/sweeps`); null for cron",
  }),
  started_at: DateTime,
  changes_until: DateTime.nullable().openapi({
    description: "payments changed up to this time were evaluated; the last few seconds' " +
      "changes (commits possibly still in flight) wait for the next walk",
  }),
  finished_at: DateTime.nullable(),
  status: z.enum(["running", "finished", "failed"]),
  subjects: z.number().int(),
  scanned: z.number().int().openapi({ description: "payments evaluated" }),
  alerts_raised: z.number().int(),
  hits_added: z.number().int(),
  cursor_from: z.string().nullable(),
  cursor: z.string().nullable(),
  errors: z.array(z.string()),
}).openapi("FraudSweep");

export const AlertIdParam = idPath(
  [ours("fa", "a fraud alert id", "GET /api/admin/payments/fraud/alerts")],
  "fa_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
);

export const Note = NoteSchema;

/** `POST /fraud/alerts/{id}/refunds`: one result per payment refunded, and those skipped. */
export const AlertRefundResultSchema = z.object({
  alert_id: z.string(),
  results: z.array(z.object({
    transaction_id: z.string(),
    status: z.number().int(),
    refund: z.unknown().optional(),
    error: z.string().optional(),
  })),
  skipped: z.array(z.object({
    transaction_id: z.string(),
    transaction_status: z.string().openapi({ example: "failed" }),
    reason: z.string(),
  })).optional().openapi({
    description: "the alert's payments Stripe captured nothing of (declined, canceled, never " +
      "completed), not sent to the refund path: nothing to refund. Absent from an answer kept " +
      "before it was given (an `Idempotency-Key` replay of one)",
  }),
}).openapi("FraudAlertRefundResult");
