/**
 * Checking an evidence draft against the pinned SDK's `DisputeUpdateParams.Evidence`:
 * the 27 classic fields (text, or a `file_…` id for the file fields),
 * `enhanced_evidence` (Visa Compelling Evidence 3.0, Visa and Mastercard
 * compliance), each text at most its field's maximum (20,000 or 5,000
 * characters), with no control characters or broken Unicode, and Stripe's
 * 150,000-character total. Every problem is named by its field, so one answer
 * lists all of them.
 */
import type Stripe from "stripe";
import { z } from "zod";
import { AppError, type FieldError } from "../../core/errors.ts";
import { fieldErrors } from "../../core/field_errors.ts";
import { type StripeErrorInfo, stripeRefusal } from "../stripe/mod.ts";
import {
  EVIDENCE_CHAR_BUDGET,
  EVIDENCE_FILE_FIELDS,
  EVIDENCE_FILE_ID,
  EVIDENCE_LONG_TEXT_MAX,
  EVIDENCE_TEXT_FIELDS,
  EVIDENCE_TEXT_MAX,
  evidenceChars,
  type EvidenceDraft,
  evidenceFieldMax,
  evidenceTextProblem,
  evidenceUnitsNote,
} from "../../domain/dispute_evidence.ts";

const TEXT = new Set<string>(EVIDENCE_TEXT_FIELDS);
const FILES = new Set<string>(EVIDENCE_FILE_FIELDS);

/** Text of an enhanced evidence field taking at most `max` characters, worded by field. */
const text = (max: number) =>
  z.string().superRefine((v, ctx) => {
    const problem = evidenceTextProblem(v, max);
    if (problem) ctx.addIssue({ code: "custom", message: `the field ${problem}` });
  });
const str = text(EVIDENCE_TEXT_MAX);
const Address = z.strictObject({
  city: str.optional(),
  country: str.optional(),
  line1: str.optional(),
  line2: str.optional(),
  postal_code: str.optional(),
  state: str.optional(),
});
const customerFields = {
  customer_account_id: str.optional(),
  customer_device_fingerprint: str.optional(),
  customer_device_id: str.optional(),
  customer_email_address: str.optional(),
  customer_purchase_ip: str.optional(),
  product_description: text(EVIDENCE_LONG_TEXT_MAX).optional(),
  shipping_address: Address.optional(),
};
export const EnhancedEvidenceSchema = z.strictObject({
  visa_compelling_evidence_3: z.strictObject({
    disputed_transaction: z.strictObject({
      ...customerFields,
      merchandise_or_services: z.enum(["merchandise", "services"]).optional(),
    }).optional(),
    prior_undisputed_transactions: z.array(z.strictObject({
      charge: z.string().regex(
        /^(ch|py)_[A-Za-z0-9_]+$/,
        "charge must be a charge id (ch_… or py_…)",
      ),
      ...customerFields,
    })).max(5, "at most 5 prior undisputed transactions").optional(),
  }).optional(),
  visa_compliance: z.strictObject({ fee_acknowledged: z.boolean().optional() }).optional(),
  mastercard_compliance: z.strictObject({ fee_acknowledged: z.boolean().optional() }).optional(),
});

export interface CheckedDraft {
  draft: EvidenceDraft;
  chars: number;
  errors: FieldError[];
}

/** What a file field takes, worded by field (README "API": errors name the field and the fix). */
const fileIdMessage = (k: string) =>
  `${k} must be a file id (file_…) from POST /api/admin/payments/disputes/{id}/files`;

function checkClassic(k: string, v: unknown, errors: FieldError[]): string | null {
  const path = `body.${k}`;
  if (typeof v !== "string") {
    errors.push({
      path,
      message: FILES.has(k) ? fileIdMessage(k) : `${k} must be text (a string)`,
    });
    return null;
  }
  if (FILES.has(k) && !EVIDENCE_FILE_ID.test(v)) {
    errors.push({ path, message: fileIdMessage(k) });
    return null;
  }
  const problem = TEXT.has(k) ? evidenceTextProblem(v, evidenceFieldMax(k)) : null;
  if (problem) {
    errors.push({ path, message: `${k} ${problem}` });
    return null;
  }
  return v;
}

/** Validates a whole draft (PUT semantics: absent or null fields are not in it). */
export function checkDraft(body: unknown): CheckedDraft {
  const errors: FieldError[] = [];
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    return { draft: {}, chars: 0, errors: [{ path: "body", message: "must be a JSON object" }] };
  }
  const draft: EvidenceDraft = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    if (k === "enhanced_evidence") {
      if (typeof v !== "object" || Array.isArray(v)) {
        errors.push({
          path: `body.${k}`,
          message: "enhanced_evidence must be an object: visa_compelling_evidence_3, " +
            "visa_compliance or mastercard_compliance, as Stripe's API takes them",
        });
        continue;
      }
      const parsed = EnhancedEvidenceSchema.safeParse(v);
      if (parsed.success) draft.enhanced_evidence = parsed.data as Record<string, unknown>;
      else {
        errors.push(...fieldErrors(`body.${k}`, parsed.error.issues, EnhancedEvidenceSchema));
      }
      continue;
    }
    if (!TEXT.has(k) && !FILES.has(k)) {
      errors.push({
        path: `body.${k}`,
        message: "not an evidence field of Stripe's API; see the checklist for the reason's fields",
      });
      continue;
    }
    const value = checkClassic(k, v, errors);
    if (value !== null && value !== "") (draft as Record<string, string>)[k] = value;
  }
  const chars = evidenceChars(
    Object.fromEntries(Object.entries(draft).filter(([k]) => !FILES.has(k))),
  );
  if (chars > EVIDENCE_CHAR_BUDGET) {
    errors.push({
      path: "body",
      message: `the evidence text totals ${chars} characters${evidenceUnitsNote(draft)}; ` +
        `Stripe allows ${EVIDENCE_CHAR_BUDGET}: shorten it by ${chars - EVIDENCE_CHAR_BUDGET}`,
    });
  }
  return { draft, chars, errors };
}

/**
 * The programs of `enhanced_evidence`, as the pinned SDK's
 * `DisputeUpdateParams.Evidence.EnhancedEvidence` names them.
 */
export const ENHANCED_PROGRAMS = [
  "mastercard_compliance",
  "visa_compelling_evidence_3",
  "visa_compliance",
] as const satisfies readonly (keyof Stripe.DisputeUpdateParams.Evidence.EnhancedEvidence)[];

/**
 * The `evidence` parameter for Stripe: the whole draft, and `""` for every
 * field not in it (Stripe keeps what is not sent), `enhanced_evidence`
 * included. Stripe merges the programs of an `enhanced_evidence` sent into
 * those it holds, and only `enhanced_evidence` as a whole can be blanked
 * (`Emptyable` in the SDK; a program is not), so a draft carrying programs is
 * sent after `CLEAR_ENHANCED` (`clearsEnhanced`): then what Stripe holds, and
 * submits, is exactly the draft (README, "What Stripe holds").
 */
export function stripeEvidence(draft: EvidenceDraft): Record<string, unknown> {
  const out: Record<string, unknown> = { ...draft };
  for (const f of [...TEXT, ...FILES, "enhanced_evidence"]) {
    if (!(f in out)) out[f] = "";
  }
  return out;
}

/** The `evidence` parameter that takes away every program Stripe holds. */
export const CLEAR_ENHANCED: Record<string, unknown> = { enhanced_evidence: "" };

/** Whether `stripeEvidence(draft)` is sent after `CLEAR_ENHANCED`: it carries programs. */
export function clearsEnhanced(draft: EvidenceDraft): boolean {
  return draft.enhanced_evidence !== undefined;
}

/** Nothing set: Stripe answers `null` (or `""`) for what was never set, or an empty hash. */
function pruned(v: unknown): unknown {
  if (v === null || v === undefined || v === "") return undefined;
  if (Array.isArray(v)) return v.length ? v.map((x) => pruned(x) ?? null) : undefined;
  if (typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => [k, pruned(x)] as const)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  // a boolean or number Stripe may answer as text (form-encoded values) is the same value
  return String(v);
}

/** Whether Stripe's `enhanced_evidence` holds exactly the draft's programs and values. */
function sameEnhanced(held: unknown, draft: unknown): boolean {
  return JSON.stringify(pruned(held) ?? null) === JSON.stringify(pruned(draft) ?? null);
}

/** Whether the evidence Stripe answered with holds the draft's fields and nothing else. */
export function stripeHoldsDraft(
  evidence: Record<string, unknown> | null | undefined,
  draft: EvidenceDraft,
): boolean {
  if (!evidence) return false;
  const d = draft as Record<string, unknown>;
  return [...TEXT, ...FILES].every((f) => {
    const held = evidence[f];
    const id = held && typeof held === "object" ? (held as { id?: unknown }).id : held;
    return (id === "" || id === undefined ? null : id) === (d[f] ?? null);
  }) && sameEnhanced(evidence.enhanced_evidence, draft.enhanced_evidence);
}

/**
 * Why a stage failed, in words: Stripe's refusal of one evidence field (its `param`,
 * `evidence[receipt]`) names the field and what to do (README "API": errors name it).
 */
export function stageErrorOf(e: unknown, id: string): { error: string; field: string | null } {
  const message = e instanceof Error ? e.message : String(e);
  const stripe = e instanceof AppError ? e.extra?.stripe as StripeErrorInfo | undefined : undefined;
  const param = stripe?.param;
  const field = typeof param === "string" ? /^evidence\[(\w+)\]$/.exec(param)?.[1] : undefined;
  if (!field) return { error: message, field: null };
  // Stripe's own words, with this field's fix rather than the general one of a refusal
  const said = stripe ? stripeRefusal(stripe) : message;
  const fix = (EVIDENCE_FILE_FIELDS as readonly string[]).includes(field)
    ? `upload the file with POST /api/admin/payments/disputes/${id}/files ` +
      `(evidence_field=${field}) or remove ${field} from the draft`
    : `correct ${field} or remove it from the draft`;
  return { error: `${said} (evidence field ${field}: ${fix})`, field };
}
