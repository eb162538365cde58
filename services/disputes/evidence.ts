/**
 * Saving an evidence draft: checked, kept in KV (in chunks) with its audit
 * entry (the changed field names and a hash, never the text), then staged at
 * Stripe with `submit=false` sent explicitly: Stripe SUBMITS when `submit` is
 * absent, and a draft must never be submitted by saving it. The whole draft is
 * sent with every other field blanked, and `staged` is recorded against the
 * draft version sent (README, "What Stripe holds").
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { notFound, validationFailed } from "../../core/errors.ts";
import { sha256Hex } from "../../core/encoding.ts";
import {
  acceptsEvidence,
  closingRefusal,
  deadlineRefusal,
  type DisputeRecord,
  type DraftMeta,
  isClosedStatus,
  roundSubmission,
} from "../../domain/dispute.ts";
import { byWhom } from "../../domain/actor.ts";
import { noResponseAllowed } from "../../domain/dispute.ts";
import { changedFields, type EvidenceDraft } from "../../domain/dispute_evidence.ts";
import { addDraft, getDispute, getDraft } from "../../kv/disputes.ts";
import {
  checkDraft,
  CLEAR_ENHANCED,
  clearsEnhanced,
  stageErrorOf,
  stripeEvidence,
} from "./evidence_rules.ts";
import { readBackRefused } from "./read_back.ts";
import { noteOvertaken, noteStaged } from "./stage_notes.ts";
import { type DraftConditions, draftPreconditionError } from "./draft_precondition.ts";

/** Stagings one save may make when newer drafts keep overtaking it (then `noteOvertaken`). */
const MAX_STAGE_ROUNDS = 3;
/** A stage not answered this long after its save is no longer in flight (the gateway's 20 s). */
const STAGE_IN_FLIGHT_MS = 30_000;

/**
 * Whether a draft saved again unchanged is staged again: when its stage
 * failed, or was never answered (its process died); not while the first
 * save's stage may still be in flight, so a burst stages once.
 */
function restage(meta: DraftMeta, nowMs: number): boolean {
  if (meta.staged) return false;
  return meta.stage_error !== null || nowMs - Date.parse(meta.updated_at) > STAGE_IN_FLIGHT_MS;
}
import type { DisputeApplier } from "./apply.ts";
import { addDisputeChange } from "./record_change.ts";
import { auditingRefusals, refused, resyncHint } from "./refusals.ts";

/**
 * Why evidence cannot be changed now (null: it can): README, "Dispute
 * workbench". With `ctx`, a submission names its submitter ("you" to them).
 */
export function draftRefusal(r: DisputeRecord, nowMs: number, ctx?: CallContext): string | null {
  if (isClosedStatus(r.status)) return `the dispute is closed (${r.status})`;
  const closing = closingRefusal(r);
  if (closing) return closing;
  if (noResponseAllowed(r)) {
    return "Stripe allows no response to this dispute (no evidence deadline): accept it or add notes";
  }
  if (!acceptsEvidence(r.status) || r.phase === "submitted") {
    const s = roundSubmission(r);
    const who = s && ctx ? ` (${byWhom(s.requested_by, s.requested_at, ctx)})` : "";
    return `evidence was submitted in this round${who}; it can no longer be changed: Stripe ` +
      "decides on what was submitted";
  }
  const late = deadlineRefusal(r, nowMs);
  return late && `${late}: Stripe takes no evidence after it, so the draft stays as it is`;
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

/** The record with its new (not yet staged) draft noted, one version after the last. */
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
      version: (r.draft?.version ?? 0) + 1,
      fields: Object.keys(draft).sort(),
      chars: d.chars,
      updated_at: d.at,
      updated_by: d.by,
      staged: false,
      stage_error: null,
      stage_error_field: null,
    },
    updated_at: d.at,
  };
}

export function createEvidenceDrafts(
  deps: Deps,
  svc: { audit: AuditService; applyDispute: DisputeApplier },
) {
  const { kv, clock, log } = deps;

  /**
   * The new draft, built from the one read in the same checked commit (a
   * concurrent save makes the commit build again from the newer draft).
   */
  async function record(
    ctx: CallContext,
    id: string,
    edit: (before: EvidenceDraft | null) => unknown,
    cond: DraftConditions,
  ) {
    return await svc.audit.commit(ctx, async (op) => {
      const entry = await getDispute(kv, id);
      const r = entry.value;
      if (!r) throw notFound("dispute", id);
      const refusal = draftRefusal(r, clock.now(), ctx);
      if (refusal) throw refused(id, refusal);
      const before = r.draft ? await getDraft(kv, id) : null;
      const checked = checkDraft(edit(before));
      if (checked.errors.length) throw validationFailed(checked.errors);
      const { draft, chars } = checked;
      const hash = draftHash(draft);
      // the draft it already is (a second click, a retry, a burst): nothing to write
      if (r.draft && r.draft.hash === hash) {
        return { value: { record: r, draft, unchanged: true }, audit: [] };
      }
      // checked in the commit: a save that lands first makes this one fail (README, Editing together)
      const stale = draftPreconditionError(id, r.draft, cond, ctx);
      if (stale) throw stale;
      const fields = changedFields(before, draft);
      const at = new Date(clock.now()).toISOString();
      const chunks = addDraft(op, id, draft, r.draft?.chunks ?? 0);
      const next = withDraft(r, draft, { hash, chunks, chars, at, by: ctx.actor.id });
      const line = { at, by: ctx.actor.id, action: "evidence_saved", changes: { fields, hash } };
      addDisputeChange(op, entry as Deno.KvEntry<DisputeRecord>, next, line);
      return {
        value: { record: next, draft, unchanged: false },
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

  /**
   * One staging of `draft` (the whole draft, every other field blanked; never submits):
   * after `CLEAR_ENHANCED` when it carries programs (Stripe merges them into what it holds).
   */
  async function stageOnce(ctx: CallContext, r: DisputeRecord, draft: EvidenceDraft) {
    const sends = clearsEnhanced(draft)
      ? [CLEAR_ENHANCED, stripeEvidence(draft)]
      : [stripeEvidence(draft)];
    try {
      let staged: Stripe.Dispute | null = null;
      for (const evidence of sends) {
        staged = await deps.stripe.call(
          (s) =>
            s.disputes.update(r.stripe_dispute, {
              evidence,
              submit: false,
            } as Stripe.DisputeUpdateParams),
          {
            label: "disputes.update(submit=false)",
            refresh: resyncHint(r.id),
            // the draft is saved; a save of the draft it already is stages it again
            again: "save the same draft again (PUT …/evidence) to stage it again: the draft is " +
              "saved here, and staging never submits",
          },
        );
      }
      await svc.applyDispute(ctx, staged!);
      return { dispute: staged! };
    } catch (e) {
      log.warn("evidence draft saved but not staged at Stripe", { dispute_id: r.id, error: e });
      // Stripe's word on why (a deadline it says has passed) is recorded, as a sync would
      await readBackRefused(deps, svc.applyDispute, ctx, r, e);
      return stageErrorOf(e, r.id);
    }
  }

  /** Stages `draft` (version `version`); restages the newest draft when a newer one overtook it. */
  async function stage(ctx: CallContext, r: DisputeRecord, draft: EvidenceDraft, version: number) {
    let sent = { version, draft };
    for (let round = 0; round < MAX_STAGE_ROUNDS; round++) {
      const answer = await stageOnce(ctx, r, sent.draft);
      if (await noteStaged(kv, r.id, sent, answer) === "recorded") return;
      const now = (await getDispute(kv, r.id)).value;
      const latest = now?.draft ? await getDraft(kv, r.id) : null;
      if (!now?.draft || !latest || draftRefusal(now, clock.now())) return;
      sent = { version: now.draft.version ?? 0, draft: latest };
    }
    // overtaken in every round: never left silently unstaged (README, "What Stripe holds")
    await noteOvertaken(kv, r.id);
  }

  async function saveWith(
    ctx: CallContext,
    id: string,
    edit: (before: EvidenceDraft | null) => unknown,
    cond: DraftConditions = {},
  ) {
    const { record: r, draft, unchanged } = await record(ctx, id, edit, cond);
    // unchanged: staged again only when Stripe may not hold it (`restage`)
    if (unchanged && !restage(r.draft!, clock.now())) return r;
    await stage(ctx, r, draft, r.draft!.version ?? 0);
    return (await getDispute(kv, id)).value ?? r;
  }

  /**
   * PUT /disputes/{id}/evidence: the whole draft (absent fields are removed), saved only if
   * the draft still is the one `cond` names (`If-Match`); without it, the last save wins.
   */
  async function save(
    ctx: CallContext,
    id: string,
    body: unknown,
    cond: DraftConditions = {},
  ): Promise<DisputeRecord> {
    const checked = checkDraft(body);
    if (checked.errors.length) throw validationFailed(checked.errors);
    const what = { action: "dispute.evidence_saved", id };
    return await auditingRefusals(
      svc.audit,
      ctx,
      what,
      () => saveWith(ctx, id, () => checked.draft, cond),
    );
  }

  /**
   * One field of the draft set (an uploaded file's id), the rest as it is now; only if the
   * draft still is the one `cond` names (`If-Match`), checked in the commit like a save.
   */
  function setField(
    ctx: CallContext,
    id: string,
    field: string,
    value: string,
    cond: DraftConditions = {},
  ) {
    return saveWith(ctx, id, (before) => ({ ...before, [field]: value }), cond);
  }

  return { save, setField };
}
