/**
 * The evidence routes of /disputes (README, "Dispute workbench"): saving the
 * draft, uploading a file, and submitting, declared here and served by
 * `disputeRoutes` (routes/disputes.ts).
 */
import { z } from "@hono/zod-openapi";
import { adminRoute } from "./admin_route.ts";
import { errorResponses, jsonContent, stripeCallErrors } from "../openapi/schemas.ts";
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import { formBodyOf, jsonBodyOf } from "./body_gate.ts";
import { EVIDENCE_FILE_FIELDS } from "../domain/dispute_evidence.ts";
import { checkDraft, filePartErrors } from "../services/disputes/mod.ts";
import {
  DisputeDetailSchema,
  DraftConditionHeaders,
  EvidenceBody,
  IdempotencyHeader,
  IdParam,
} from "./dispute_schemas.ts";

const tags = ["disputes"];

/**
 * The draft's fields, checked with the unknown names and the headers (README "Inputs and
 * headers": one 422 lists them all); the service checks the draft again when it saves it.
 */
async function draftErrors(c: Context<AppEnv>) {
  const body = await jsonBodyOf(c);
  return body === undefined ? [] : checkDraft(body).errors;
}

/** The upload's `file` part (missing, or several), with the form's other fields. */
async function filePartOf(c: Context<AppEnv>) {
  const form = await formBodyOf(c);
  return form ? filePartErrors(form.file) : [];
}

// the 150,000 characters of the largest draft, each escaped `\uXXXX` at worst, and the field names
export const evidence = adminRoute({
  permission: "disputes.evidence",
  bodyLimit: 1024 * 1024,
  bodyTooLarge: {
    message: "a draft holds at most 150,000 characters of evidence text in all, each field " +
      "at most 20,000 (the explanations) or 5,000 (the rest): shorten the longest fields, " +
      "or put the rest in a file (POST …/files)",
  },
  check: draftErrors,
}, {
  method: "put",
  path: "/disputes/{id}/evidence",
  tags,
  summary: "Save the evidence draft and stage it at Stripe (submit=false): never submits",
  description: "Answers with the remaining character budget and the reason's checklist. " +
    "JSON up to 1 MiB (the 150,000 characters of text even when each is sent escaped as " +
    "`\\uXXXX`); each text field takes at most 20,000 characters (the explanations Stripe " +
    "documents so) or 5,000 (the rest), without control characters (tabs and new lines are " +
    "fine); a field over its limit is 422 naming it and the limit. Refused (409, naming why) after `evidence_due_by`, after a " +
    "submission in the round, on a closed dispute or while an accept's close is in flight. " +
    "The draft it already is (a second click, a burst) answers the dispute with nothing " +
    'written, staged again only if its stage failed. With `If-Match: "<draft.hash>"` the ' +
    "save is made only if the draft still is the one read (else `412 precondition_failed` " +
    "naming who changed it and when, nothing written); without it, the last save wins.",
  request: {
    params: IdParam,
    headers: DraftConditionHeaders,
    body: { required: true, content: { "application/json": { schema: EvidenceBody } } },
  },
  responses: {
    200: {
      ...jsonContent(DisputeDetailSchema, "the dispute"),
      headers: {
        etag: {
          description: 'the saved draft\'s tag (`"<draft.hash>"`): send it as `If-Match` ' +
            "with the next save or upload",
          schema: { type: "string", example: '"9b74c9897bac770ffc029102a200c5de"' },
        },
      },
    },
    ...errorResponses("not_found", "conflict", "precondition_failed", "payload_too_large"),
  },
});

// the 5 MB file plus the multipart framing
export const files = adminRoute({
  permission: "disputes.evidence",
  bodyLimit: 5 * 1024 * 1024 + 64 * 1024,
  bodyTooLarge: {
    path: "body.file",
    message: "file takes at most 5 MB (5242880 bytes), Stripe's limit for dispute evidence: " +
      "shrink it (a lower resolution, a compressed PDF) or split it and upload each part to " +
      "its own field",
  },
  check: filePartOf,
}, {
  method: "post",
  path: "/disputes/{id}/files",
  tags,
  summary: "Upload an evidence file (PDF, JPEG, PNG; ≤ 5 MB) to Stripe; its id lands in the draft",
  description: "Refused like a draft save (409, naming why: after `evidence_due_by`, after a " +
    "submission in the round, on a closed dispute or while an accept's close is in flight), " +
    "before anything is sent to Stripe. The same file (bytes, name, type) sent again by the " +
    "same admin to the same field within 10 minutes (a second click, a burst, a retry after a " +
    "lost answer) answers with the file the first upload made: one file at Stripe. With " +
    '`If-Match: "<draft.hash>"` the file lands only if the draft still is the one read (else ' +
    "`412 precondition_failed` naming who changed it and when, before anything is sent to " +
    "Stripe; a change that lands while the file is being sent leaves the file at Stripe, " +
    "unused, and the same upload sent again with the new tag uses it); without it, the file " +
    "lands in the draft as it is then.",
  request: {
    params: IdParam,
    headers: DraftConditionHeaders,
    body: {
      required: true,
      content: {
        "multipart/form-data": {
          schema: z.object({
            // required (an absent part fails here, so the document lists it required); what
            // else is wrong with it is told by the route's guard (`filePartErrors`)
            file: z.custom<unknown>((v) => v !== undefined, {
              message: "send the file as a form field `file`",
            }).openapi({ type: "string", format: "binary" }),
            evidence_field: z.enum(EVIDENCE_FILE_FIELDS).optional().openapi({
              description: "which file field of the draft takes it (default `uncategorized_file`)",
            }),
          }).strict(),
        },
      },
    },
  },
  responses: {
    201: {
      ...jsonContent(DisputeDetailSchema, "uploaded; the draft names the file"),
      headers: {
        etag: {
          description: 'the draft\'s new tag (`"<draft.hash>"`): send it as `If-Match` with ' +
            "the next save or upload",
          schema: { type: "string", example: '"9b74c9897bac770ffc029102a200c5de"' },
        },
      },
    },
    ...errorResponses(
      "not_found",
      "conflict",
      "precondition_failed",
      "payload_too_large",
      "unsupported_media_type",
      "stripe_error",
      "stripe_unavailable",
    ),
  },
});

export const submit = adminRoute({ permission: "disputes.submit", secondFactor: true }, {
  method: "post",
  path: "/disputes/{id}/submit",
  tags,
  summary: "Submit the evidence to Stripe, once per round",
  description: "Refused (409, naming why) after a submission in the same round, after " +
    "`evidence_due_by`, on a closed dispute or one Stripe takes no evidence for, and while " +
    "an accept's close is in flight (`closing.state` `processing`). No draft, or a draft " +
    "holding no evidence (no field filled in, no file), is 422: it would spend the round on " +
    "nothing. The submitter's own submit sent again with the draft unchanged (a second click, " +
    "a retry without a key, a burst) answers their submission (200, or 202 while Stripe's " +
    "answer is unknown) with nothing written and nothing sent; anyone else's is 409 naming " +
    "who submitted it and when. Under an `Idempotency-Key`, the same key answers the " +
    "dispute as it stands (its submission, settled since or not).",
  request: { params: IdParam, headers: IdempotencyHeader },
  responses: {
    200: jsonContent(DisputeDetailSchema, "submitted: Stripe answered"),
    202: jsonContent(
      DisputeDetailSchema,
      "sent with an unknown outcome; reconciliation (or Stripe's webhook) finishes it",
    ),
    ...stripeCallErrors(),
  },
});
