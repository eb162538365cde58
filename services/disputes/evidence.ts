/**
 * Saving an evidence draft: checked, kept in KV (in chunks) with its audit
 * entry (the changed field names and a hash, never the text), then staged at
 * Stripe with `submit=false` sent explicitly: Stripe SUBMITS when `submit` is
 * absent, and a draft must never be submitted by saving it.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, notFound, validationFailed } from "../../core/errors.ts";
import { sha256Hex } from "../../core/encoding.ts";
import { acceptsEvidence, type DisputeRecord, isClosedStatus } from "../../domain/dispute.ts";
import { noResponseAllowed } from "../../domain/dispute.ts";
import { changedFields, type EvidenceDraft } from "../../domain/dispute_evidence.ts";
import { addDraft, addUpdateDispute, getDispute, getDraft } from "../../kv/disputes.ts";
import { checkDraft, stripeEvidence } from "./evidence_rules.ts";
import type { DisputeApplier } from "./apply.ts";
import { addDisputeChange } from "./record_change.ts";

/** Why evidence cannot be changed now (null: it can). */
export function draftRefusal(r: DisputeRecord): string | null {
  if (isClosedStatus(r.status)) return `the dispute is closed (${r.status})`;
  if (noResponseAllowed(r)) {
    return "Stripe allows no response to this dispute (no evidence deadline): accept it or add notes";
  }
  if (!acceptsEvidence(r.status) || r.phase === "submitted") {
    return "evidence was submitted in this round; it can no longer be changed";
  }
  return null;
}

function sortedDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedDeep);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v).sort().map((k) => [k, sortedDeep((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** SHA-256 of the draft's canonical JSON: what the audit log keeps instead of the text. */
export function draftHash(draft: EvidenceDraft): string {
  return sha256Hex(JSON.stringify(sortedDeep(draft)));
}

/** The record with its new (not yet staged) draft noted. */
function withDraft(
  r: DisputeRecord,
  draft: EvidenceDraft,
  d: { hash: string; chunks: number; chars: number; at: string; by: string },
): DisputeRecord {
  return {
    ...r,
    draft: {
      hash: d.hash,
      chunks: d.chunks,
      fields: Object.keys(draft).sort(),
      chars: d.chars,
      updated_at: d.at,
      updated_by: d.by,
      staged: false,
      stage_error: null,
    },
    updated_at: d.at,
  };
}

/** Notes on the record whether Stripe took the staged copy; skipped if the draft moved on. */
async function noteStaged(kv: Deno.Kv, id: string, hash: string, error: string | null) {
  const entry = await getDispute(kv, id);
  if (!entry.value?.draft || entry.value.draft.hash !== hash) return;
  const next = {
    ...entry.value,
    draft: { ...entry.value.draft, staged: error === null, stage_error: error },
  };
  const op = kv.atomic();
  addUpdateDispute(op, entry as Deno.KvEntry<DisputeRecord>, next);
  await op.commit();
}

export function createEvidenceDrafts(
  deps: Deps,
  svc: { audit: AuditService; applyDispute: DisputeApplier },
) {
  const { kv, clock, log } = deps;

  async function record(ctx: CallContext, id: string, draft: EvidenceDraft, chars: number) {
    return await svc.audit.commit(ctx, async (op) => {
      const entry = await getDispute(kv, id);
      const r = entry.value;
      if (!r) throw notFound("dispute", id);
      const refusal = draftRefusal(r);
      if (refusal) throw new AppError("conflict", `dispute ${id}: ${refusal}`);
      const before = r.draft ? await getDraft(kv, id) : null;
      const fields = changedFields(before, draft);
      const hash = draftHash(draft);
      const at = new Date(clock.now()).toISOString();
      const chunks = addDraft(op, id, draft, r.draft?.chunks ?? 0);
      const next = withDraft(r, draft, { hash, chunks, chars, at, by: ctx.actor.id });
      const line = { at, by: ctx.actor.id, action: "evidence_saved", changes: { fields, hash } };
      addDisputeChange(op, entry as Deno.KvEntry<DisputeRecord>, next, line);
      return {
        value: { record: next, previousFields: r.draft?.fields ?? [] },
        audit: [{
          action: "dispute.evidence_saved",
          target: { type: "dispute", id },
          result: "ok" as const,
          before: { hash: r.draft?.hash ?? null },
          after: { fields_changed: fields, hash, chars },
        }],
      };
    });
  }

  /** PUT /disputes/{id}/evidence: the whole draft (absent fields are removed). */
  async function save(ctx: CallContext, id: string, body: unknown): Promise<DisputeRecord> {
    const checked = checkDraft(body);
    if (checked.errors.length) throw validationFailed(checked.errors);
    const saved = await record(ctx, id, checked.draft, checked.chars);
    const r = saved.record;
    let error: string | null = null;
    try {
      const staged: Stripe.Dispute = await deps.stripe.call(
        (s) =>
          s.disputes.update(r.stripe_dispute, {
            evidence: stripeEvidence(checked.draft, saved.previousFields),
            submit: false,
          } as Stripe.DisputeUpdateParams),
        { label: "disputes.update(submit=false)" },
      );
      await svc.applyDispute(ctx, staged);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      log.warn("evidence draft saved but not staged at Stripe", { dispute_id: id, error: e });
    }
    await noteStaged(kv, id, r.draft!.hash, error);
    return (await getDispute(kv, id)).value ?? r;
  }

  return { save };
}
