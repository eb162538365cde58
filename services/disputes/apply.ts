/**
 * Applying a dispute object Stripe answered with (after a stage, submit,
 * close, retrieve or list) exactly as a webhook would be: through the ingest
 * applier into the transaction's commit, where the dispute hook updates the
 * record (services/disputes/ingest.ts). Webhooks bringing the same news later
 * change nothing; older ones never move it back. The answer is Stripe's word
 * at its `Date` second; one that second cannot place is read back.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { IdFactory } from "../../core/ids.ts";
import { stripeAnsweredAt, stripeRequestId } from "../stripe/mod.ts";
import {
  applyToTransaction,
  auditedCommitter,
  type CommitResult,
  type DisputeChangeHook,
  disputeSnap,
  idOf,
  type Observation,
  withDisputeReadBack,
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
    // Stripe's time of the answer (its `Date`), not our clock, which may run ahead or behind
    const nowSec = () => Math.floor(deps.clock.now() / 1000);
    const at = stripeAnsweredAt(dispute) ?? nowSec();
    const observations: Observation[] = [
      { kind: "dispute", snap: disputeSnap(dispute, at, null, at), raw: dispute },
    ];
    // Two answers (or an answer and an event) of one second saying different things: only
    // Stripe knows which is newer, so it is asked (services/ingest/dispute_read_back.ts).
    const readBack = { eventType: null, atIntake: false };
    return await withDisputeReadBack(
      { deps, nowSec },
      observations,
      readBack,
      () =>
        applyToTransaction(deps, { ...svc, committer }, {
          refs: { pi: idOf(dispute.payment_intent), charge: idOf(dispute.charge) },
          observations,
          eventId: null,
          ctx,
          stripeRequest: { request_id: stripeRequestId(dispute), idempotency_key: idempotencyKey },
        }),
    );
  };
}

export type DisputeApplier = ReturnType<typeof createDisputeApplier>;
