/**
 * Evidence files: checked here (PDF, JPEG or PNG by their first bytes, not
 * only by what the client claims; at most 5 MB, Stripe's limit for dispute
 * evidence), sent through the gateway to Stripe's Files API
 * (`purpose=dispute_evidence`, its own 20/s sub-bucket), and the file id is
 * put in the draft's file field, which is saved and staged like any draft.
 * The same file sent again by the same admin to the same field is the file
 * the first upload made (upload_claims.ts). `If-Match` / `If-None-Match` hold
 * as for a draft save (draft_precondition.ts): checked before the file is
 * sent to Stripe, and again in the commit that sets the field.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, type FieldError, validationFailed } from "../../core/errors.ts";
import type { EvidenceFileField } from "../../domain/dispute_evidence.ts";
import { dropUpload, getDispute } from "../../kv/disputes.ts";
import { claimUpload, noteUploaded, uploadDigest } from "./upload_claims.ts";
import { draftRefusal } from "./evidence.ts";
import { type DraftConditions, draftPreconditionError } from "./draft_precondition.ts";
import { auditingRefusals, refused } from "./refusals.ts";

export const MAX_FILE_BYTES = 5 * 1024 * 1024;

const SIGNATURES: { type: string; magic: number[] }[] = [
  { type: "application/pdf", magic: [0x25, 0x50, 0x44, 0x46] },
  { type: "image/png", magic: [0x89, 0x50, 0x4e, 0x47] },
  { type: "image/jpeg", magic: [0xff, 0xd8, 0xff] },
];

/** The file's real type from its first bytes, or null when it is none of the three. */
export function sniffType(bytes: Uint8Array): string | null {
  const hit = SIGNATURES.find((s) => s.magic.every((b, i) => bytes[i] === b));
  return hit?.type ?? null;
}

/**
 * What is wrong with the form's `file` part (none: it is one file): checked by the route's guard
 * with the form's other fields, so one 422 names them all, and again here.
 */
export function filePartErrors(file: unknown): FieldError[] {
  if (Array.isArray(file)) {
    return [{
      path: "body.file",
      message: `send one file per request (this one has ${file.length} \`file\` parts); ` +
        "upload each file on its own",
    }];
  }
  if (!(file instanceof File)) {
    return [{ path: "body.file", message: "send the file as a form field `file`" }];
  }
  return [];
}

export function createEvidenceFiles(
  deps: Deps,
  svc: {
    audit: AuditService;
    setField: (
      ctx: CallContext,
      id: string,
      field: string,
      value: string,
      cond: DraftConditions,
    ) => Promise<unknown>;
  },
) {
  const { kv } = deps;

  /**
   * POST /disputes/{id}/files; a refusal is audited `denied` (refusals.ts), a failed
   * condition (`412`) is not, as for a draft save.
   */
  function upload(
    ctx: CallContext,
    id: string,
    file: unknown,
    field: EvidenceFileField,
    cond: DraftConditions = {},
  ) {
    const what = { action: "dispute.file_uploaded", id };
    return auditingRefusals(svc.audit, ctx, what, () => send(ctx, id, { file, field, cond }));
  }

  async function send(
    ctx: CallContext,
    id: string,
    { file, field, cond }: { file: unknown; field: EvidenceFileField; cond: DraftConditions },
  ): Promise<void> {
    const partErrors = filePartErrors(file);
    if (partErrors.length || !(file instanceof File)) throw validationFailed(partErrors);
    if (file.size > MAX_FILE_BYTES) {
      const message = `the file is ${file.size} bytes; Stripe takes at most ${MAX_FILE_BYTES} ` +
        "bytes (5 MB) of dispute evidence a file: shrink it (a lower resolution, a compressed " +
        "PDF) or split it and upload each part to its own field";
      throw new AppError("payload_too_large", message, {
        errors: [{ path: "body.file", message }],
      });
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    const type = sniffType(bytes);
    if (!type) {
      const message = `${file.name || "the file"} (${file.type || "unknown type"}) is not a ` +
        "PDF, JPEG or PNG by its content, whatever its name or type say: send it as a PDF, " +
        "JPEG or PNG (print or export it as one)";
      throw new AppError("unsupported_media_type", message, {
        errors: [{ path: "body.file", message }],
      });
    }
    const r = (await getDispute(kv, id)).value;
    const refusal = r && draftRefusal(r, deps.clock.now(), ctx);
    if (refusal) throw refused(id, refusal);
    const name = file.name || `evidence.${type.split("/")[1]}`;
    const by = ctx.actor.id;
    const digest = await uploadDigest({ dispute: id, by, field, name, type, bytes });
    const claim = await claimUpload(kv, deps.clock, { dispute: id, by, field, digest });
    if (claim.kind === "uploaded") {
      // the same upload sent again: its file, set again only if the draft lost it since
      // (the draft it made answers whatever the tag, as the same save sent again does)
      await svc.setField(ctx, id, field, claim.fileId, cond);
      return;
    }
    // a draft changed since the caller read it: 412 before anything is sent to Stripe
    const stale = r && draftPreconditionError(id, r.draft, cond, ctx);
    if (stale) {
      await dropUpload(kv, claim.entry);
      throw stale;
    }
    let uploaded: Stripe.File;
    try {
      uploaded = await deps.stripe.call(
        (s) =>
          s.files.create(
            { purpose: "dispute_evidence", file: { data: bytes, name, type } },
            { idempotencyKey: `dispute-file:${id}:${digest}` },
          ),
        {
          label: "files.create",
          // README "Dispute workbench": the same upload again is one file at Stripe
          again: "send the same file (same bytes, name and type) to the same field again, " +
            "yourself: it goes under the same Stripe idempotency key, so Stripe makes one file",
        },
      );
    } catch (e) {
      await dropUpload(kv, claim.entry); // sent again, it tries afresh (the same Stripe key)
      throw e;
    }
    await noteUploaded(kv, deps.clock, claim.entry, uploaded.id);
    await svc.audit.record(ctx, {
      action: "dispute.file_uploaded",
      target: { type: "dispute", id },
      result: "ok",
      after: { file: uploaded.id, field, bytes: bytes.length, type },
    });
    // set in the draft as it is when written (concurrent uploads each keep theirs), unless
    // `cond` names a draft changed meanwhile: then 412, and the file waits at Stripe for the
    // same upload sent again with the new tag
    await svc.setField(ctx, id, field, uploaded.id, cond);
  }

  return { upload };
}
