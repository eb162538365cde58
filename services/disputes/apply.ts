/**
 * Applying a dispute object Stripe answered with (after a stage, submit,
 * close, retrieve or list) exactly as a webhook would be: through the ingest
 * applier into the transaction's commit, where the dispute hook updates the
 * record (services/disputes/ingest.ts). Webhooks bringing the same news later
 * change nothing; older ones never move it back.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { IdFactory } from "../../core/ids.ts";
import { stripeRequestId } from "../stripe/mod.ts";
import {
  applyToTransaction,
  auditedCommitter,
  type CommitResult,
  type DisputeChangeHook,
  disputeSnap,
  idOf,
} from "../ingest/mod.ts";

export interface DisputeApplierServices {
  audit: AuditService;
  newId: IdFactory;
  disputeChange: DisputeChangeHook;
}

export function createDisputeApplier(deps: Deps, svc: DisputeApplierServices) {
  const committer = auditedCommitter(svc.audit);

  return async function applyDispute(
    ctx: CallContext,
    dispute: Stripe.Dispute,
    idempotencyKey: string | null = null,
  ): Promise<CommitResult> {
    const at = Math.floor(deps.clock.now() / 1000);
    return await applyToTransaction(deps, { ...svc, committer }, {
      refs: { pi: idOf(dispute.payment_intent), charge: idOf(dispute.charge) },
      observations: [{ kind: "dispute", snap: disputeSnap(dispute, at, null), raw: dispute }],
      eventId: null,
      ctx,
      stripeRequest: { request_id: stripeRequestId(dispute), idempotency_key: idempotencyKey },
    });
  };
}

export type DisputeApplier = ReturnType<typeof createDisputeApplier>;
