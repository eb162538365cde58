/**
 * The submission's call to Stripe (services/disputes/submit.ts): the frozen
 * draft, every other field blanked, with `submit=true` under the submission's
 * idempotency key. A draft carrying `enhanced_evidence` programs is sent after
 * `CLEAR_ENHANCED` (staged, `submit=false`, under the same key with `:clear`,
 * so a retry is the same call at Stripe): Stripe merges programs into those it
 * holds, and the submission must be exactly the draft (README, "What Stripe
 * holds").
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import { AppError } from "../../core/errors.ts";
import type { DisputeRecord } from "../../domain/dispute.ts";
import { classifyStripeFailure, stripeOutcome, type StripePriority } from "../stripe/mod.ts";
import { getDraft } from "../../kv/disputes.ts";
import { CLEAR_ENHANCED, clearsEnhanced, stripeEvidence } from "./evidence_rules.ts";
import { resyncHint } from "./refusals.ts";

export type Attempt =
  | { kind: "answered"; dispute: Stripe.Dispute }
  | { kind: "refused"; error: AppError }
  /** 429 / `lock_timeout`: Stripe did nothing now, which says nothing about an earlier send */
  | { kind: "try_again"; error: AppError }
  | { kind: "unknown"; error: unknown };

/** Sends submission `r.submission` of the dispute's draft; what Stripe's answer came to. */
export async function sendSubmission(
  deps: Deps,
  r: DisputeRecord,
  priority: StripePriority,
): Promise<Attempt> {
  const draft = await getDraft(deps.kv, r.id) ?? {};
  const key = r.submission!.stripe_idempotency_key;
  const options = { priority, refresh: resyncHint(r.id) };
  try {
    if (clearsEnhanced(draft)) {
      await deps.stripe.call(
        (s) =>
          s.disputes.update(r.stripe_dispute, {
            evidence: CLEAR_ENHANCED,
            submit: false,
          } as Stripe.DisputeUpdateParams, { idempotencyKey: `${key}:clear` }),
        { ...options, label: "disputes.update(submit=false)" },
      );
    }
    const dispute = await deps.stripe.call(
      (s) =>
        s.disputes.update(r.stripe_dispute, {
          evidence: stripeEvidence(draft),
          submit: true,
        } as Stripe.DisputeUpdateParams, { idempotencyKey: key }),
      { ...options, label: "disputes.update(submit=true)" },
    );
    return { kind: "answered", dispute };
  } catch (error) {
    if (stripeOutcome(error) === "definite" && error instanceof AppError) {
      return classifyStripeFailure(error) === "try_again"
        ? { kind: "try_again", error }
        : { kind: "refused", error };
    }
    deps.log.warn("dispute submission outcome unknown; left to reconciliation", {
      dispute_id: r.id,
      error,
    });
    return { kind: "unknown", error };
  }
}
