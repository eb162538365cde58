/**
 * What a stage of the evidence draft left (services/disputes/evidence.ts;
 * README, "What Stripe holds"): an answer recorded against the draft version
 * it sent, and a draft whose stages were overtaken in every round left with a
 * `stage_error` saying to save it again, never silently unstaged.
 */
import type Stripe from "stripe";
import type { DisputeRecord, DraftMeta } from "../../domain/dispute.ts";
import type { EvidenceDraft } from "../../domain/dispute_evidence.ts";
import { addUpdateDispute, getDispute } from "../../kv/disputes.ts";
import { stripeHoldsDraft } from "./evidence_rules.ts";

/** How one staging call went: Stripe's answer, or why there is none (and which field, if one). */
export type StageAnswer = { dispute: Stripe.Dispute } | { error: string; field: string | null };

/**
 * Records a staging answer against the draft version it sent. The current
 * version is staged only when Stripe answered with exactly its fields; an
 * answer for an older version (it may have reached Stripe after a newer one)
 * marks the current draft not staged and asks for it to be staged again.
 */
export async function noteStaged(
  kv: Deno.Kv,
  id: string,
  sent: { version: number; draft: EvidenceDraft },
  answer: StageAnswer,
): Promise<"recorded" | "stale"> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await getDispute(kv, id);
    const meta = entry.value?.draft;
    if (!meta) return "recorded";
    const current = (meta.version ?? 0) === sent.version;
    let draft: DraftMeta;
    if (!current) draft = { ...meta, staged: false };
    else if ("error" in answer) {
      draft = {
        ...meta,
        staged: false,
        stage_error: answer.error,
        stage_error_field: answer.field,
      };
    } else {
      const held = stripeHoldsDraft(
        answer.dispute.evidence as unknown as Record<string, unknown>,
        sent.draft,
      );
      draft = {
        ...meta,
        staged: held,
        stage_error: held ? null : "Stripe answered with evidence other than the draft",
        stage_error_field: null,
      };
    }
    const op = kv.atomic();
    addUpdateDispute(op, entry as Deno.KvEntry<DisputeRecord>, { ...entry.value!, draft });
    if ((await op.commit()).ok) return current ? "recorded" : "stale";
  }
  return "recorded";
}

/** Why a draft is not staged after its stages were overtaken in every round. */
export const OVERTAKEN_STAGE = "newer saves overtook this draft's stage at Stripe in every " +
  "round (saves sent in parallel), so Stripe may hold another version: save the same draft " +
  "again (PUT …/evidence) to stage it again; staging never submits";

/**
 * After the last round of a stage overtaken by newer saves: the current
 * draft, if still not staged and with no error of its own, says to save it
 * again (which stages it again). A stage of it still in flight, answering
 * later, records its answer over this.
 */
export async function noteOvertaken(kv: Deno.Kv, id: string): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await getDispute(kv, id);
    const meta = entry.value?.draft;
    if (!meta || meta.staged || meta.stage_error !== null) return;
    const draft: DraftMeta = { ...meta, stage_error: OVERTAKEN_STAGE, stage_error_field: null };
    const op = kv.atomic();
    addUpdateDispute(op, entry as Deno.KvEntry<DisputeRecord>, { ...entry.value!, draft });
    if ((await op.commit()).ok) return;
  }
}
