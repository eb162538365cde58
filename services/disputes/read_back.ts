/**
 * Stripe's word after it refused a stage or a submit (README, "Dispute
 * workbench", Deadlines: "Stripe's word counts"): the dispute is read back
 * from Stripe and applied as a sync would, so a deadline Stripe says has
 * passed (`past_due`), a close or an answer made behind this service's back
 * is recorded in the commit that applies it, and the workbench refuses what
 * follows before anything is sent to Stripe.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { DisputeRecord } from "../../domain/dispute.ts";
import { classifyStripeFailure } from "../stripe/mod.ts";
import type { DisputeApplier } from "./apply.ts";

/** After `error` from Stripe on dispute `r`: read back and applied when Stripe refused it. */
export async function readBackRefused(
  deps: Deps,
  applyDispute: DisputeApplier,
  ctx: CallContext,
  r: DisputeRecord,
  error: unknown,
): Promise<void> {
  if (classifyStripeFailure(error) !== "refused") return;
  try {
    const dispute = await deps.stripe.call(
      (s) => s.disputes.retrieve(r.stripe_dispute),
      { label: "disputes.retrieve" },
    );
    await applyDispute(ctx, dispute);
  } catch (e) {
    // the refusal stands as it is; a sync brings Stripe's word later
    deps.log.warn("dispute not read back after Stripe's refusal", { dispute_id: r.id, error: e });
  }
}
