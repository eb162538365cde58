/**
 * Evidence rules of Stripe's API as pinned: the classic fields (text, or a
 * file id), the 150,000-character budget, and which fields matter for each
 * dispute reason. Pure.
 */
import { plainTextProblem } from "./text.ts";

/** The classic evidence fields that take text (Stripe's `DisputeUpdateParams.Evidence`). */
export const EVIDENCE_TEXT_FIELDS = [
  "access_activity_log",
  "billing_address",
  "cancellation_policy_disclosure",
  "cancellation_rebuttal",
  "customer_email_address",
  "customer_name",
  "customer_purchase_ip",
  "duplicate_charge_explanation",
  "duplicate_charge_id",
  "product_description",
  "refund_policy_disclosure",
  "refund_refusal_explanation",
  "service_date",
  "shipping_address",
  "shipping_carrier",
  "shipping_date",
  "shipping_tracking_number",
  "uncategorized_text",
] as const;

/** The classic evidence fields that take a file id (`file_…`, purpose `dispute_evidence`). */
export const EVIDENCE_FILE_FIELDS = [
  "cancellation_policy",
  "customer_communication",
  "customer_signature",
  "duplicate_charge_documentation",
  "receipt",
  "refund_policy",
  "service_documentation",
  "shipping_documentation",
  "uncategorized_file",
] as const;

/**
 * What a file field takes: a file id as Stripe makes them (`file_…`), one pattern for the
 * service's check and the OpenAPI document's `pattern` on each file field.
 */
export const EVIDENCE_FILE_ID = /^file_[A-Za-z0-9_]{1,120}$/;

export type EvidenceTextField = typeof EVIDENCE_TEXT_FIELDS[number];
export type EvidenceFileField = typeof EVIDENCE_FILE_FIELDS[number];
export type EvidenceField = EvidenceTextField | EvidenceFileField;

/** Stripe's limit on the characters of all evidence text together. */
export const EVIDENCE_CHAR_BUDGET = 150_000;

/** The text fields the pinned SDK documents as taking up to 20,000 characters each. */
export const EVIDENCE_LONG_TEXT_FIELDS: readonly EvidenceTextField[] = [
  "access_activity_log",
  "cancellation_policy_disclosure",
  "cancellation_rebuttal",
  "duplicate_charge_explanation",
  "product_description",
  "refund_policy_disclosure",
  "refund_refusal_explanation",
  "uncategorized_text",
];
export const EVIDENCE_LONG_TEXT_MAX = 20_000;
/** Stripe's limit on a string parameter its API documents no other limit for. */
export const EVIDENCE_TEXT_MAX = 5_000;

/** The most characters evidence text field `field` takes at Stripe. */
export function evidenceFieldMax(field: string): number {
  return (EVIDENCE_LONG_TEXT_FIELDS as readonly string[]).includes(field)
    ? EVIDENCE_LONG_TEXT_MAX
    : EVIDENCE_TEXT_MAX;
}

/**
 * What is wrong with `text` as the value of an evidence field taking at most
 * `max` characters (null: nothing): too long, or not plain text (a control
 * character, which JSON stores in six characters, or a lone surrogate).
 */
export function evidenceTextProblem(text: string, max: number): string | null {
  if (text.length > max) {
    return `takes at most ${max} characters${unitsNote(text)} (this one has ${text.length}): ` +
      `shorten it by ${text.length - max}`;
  }
  return plainTextProblem(text);
}

/**
 * Evidence text is counted in UTF-16 code units, a JavaScript string's length (README "Dispute
 * workbench"): Stripe documents its limits as characters without saying how it counts, and a
 * count in code units is never below one in code points, so what is taken here Stripe takes
 * either way; the 1 MiB body limit and the KV sizing of the largest draft are worked out on it
 * too. Where that differs from what a person counts (an emoji, any character beyond U+FFFF,
 * counts as two), the message says so.
 */
function unitsNote(text: string): string {
  return /[\ud800-\udbff][\udc00-\udfff]/.test(text)
    ? " counted in UTF-16 code units (an emoji or any other character beyond U+FFFF counts as two)"
    : "";
}

/** `unitsNote` for the whole draft's text (the 150,000 budget). */
export function evidenceUnitsNote(value: unknown): string {
  return unitsNote(JSON.stringify(value) ?? "");
}

/** A draft: classic fields as strings, and `enhanced_evidence` as Stripe shapes it. */
export type EvidenceDraft = Partial<Record<EvidenceField, string>> & {
  enhanced_evidence?: Record<string, unknown>;
};

/** Which fields matter most for each reason (Stripe's dispute-reason guidance). */
const CHECKLISTS: Record<string, EvidenceField[]> = {
  fraudulent: [
    "customer_name",
    "customer_email_address",
    "billing_address",
    "customer_purchase_ip",
    "receipt",
    "customer_communication",
    "shipping_documentation",
    "access_activity_log",
  ],
  product_not_received: [
    "product_description",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
    "shipping_documentation",
    "customer_communication",
  ],
  product_unacceptable: [
    "product_description",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "customer_communication",
  ],
  subscription_canceled: [
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "service_date",
  ],
  duplicate: [
    "duplicate_charge_id",
    "duplicate_charge_explanation",
    "duplicate_charge_documentation",
    "receipt",
  ],
  credit_not_processed: [
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "customer_communication",
  ],
  unrecognized: ["customer_name", "product_description", "receipt", "customer_communication"],
  general: ["product_description", "receipt", "customer_communication", "uncategorized_text"],
};

export interface ChecklistItem {
  field: EvidenceField;
  provided: boolean;
}

/** The reason's checklist against a draft (reasons without one get `general`'s). */
export function checklistFor(reason: string, draft: EvidenceDraft): ChecklistItem[] {
  const fields = CHECKLISTS[reason] ?? CHECKLISTS.general;
  return fields.map((field) => ({ field, provided: typeof draft[field] === "string" }));
}

/**
 * Whether a draft (or part of it) holds evidence: text that is not blank, a
 * file id, a `true` acknowledgement. An empty draft submitted would spend the
 * round on nothing (README, "Dispute workbench": `submit`).
 */
export function holdsEvidence(value: unknown): boolean {
  if (typeof value === "string") return value.trim() !== "";
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return true;
  if (Array.isArray(value)) return value.some(holdsEvidence);
  if (value && typeof value === "object") return Object.values(value).some(holdsEvidence);
  return false;
}

/** Characters counted against the budget: every string in the draft. */
export function evidenceChars(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (Array.isArray(value)) return value.reduce((n, v) => n + evidenceChars(v), 0);
  if (value && typeof value === "object") {
    return Object.values(value).reduce((n: number, v) => n + evidenceChars(v), 0);
  }
  return 0;
}

/** Fields whose value differs between two drafts (added, changed or removed). */
export function changedFields(before: EvidenceDraft | null, after: EvidenceDraft): string[] {
  const names = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  const b = (before ?? {}) as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  return [...names].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k])).sort();
}
