/**
 * Accepting a dispute: closing it at Stripe, which concedes it as lost. The
 * decision is recorded (audited, with the operator's note) before Stripe is
 * called, and the call is keyed by the dispute, so a retry or a second click
 * is one close at Stripe. At or above the refund approval threshold one
 * person cannot do it alone: the first accept is recorded as a request
 * (202), and a second operator, not the requester, confirms it.
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, notFound } from "../../core/errors.ts";
import {
  acceptsEvidence,
  type DisputeRecord,
  isClosedStatus,
  withDisputeHistory,
} from "../../domain/dispute.ts";
import { addUpdateDispute, getDispute } from "../../kv/disputes.ts";
import type { DisputeApplier } from "./apply.ts";

export type AcceptOutcome =
  | { kind: "closed"; record: DisputeRecord }
  | { kind: "awaiting_approval"; record: DisputeRecord };

function acceptRefusal(r: DisputeRecord): string | null {
  if (isClosedStatus(r.status)) return `the dispute is already closed (${r.status})`;
  if (!acceptsEvidence(r.status)) {
    return `Stripe no longer lets it be closed (${r.status}): the network is deciding`;
  }
  if (r.submission?.state === "processing") return "a submission is in flight";
  return null;
}

export function createDisputeAccepts(
  deps: Deps,
  svc: { audit: AuditService; applyDispute: DisputeApplier },
) {
  const { kv, clock, config } = deps;

  /** The decision, audited: a request (needs a second person) or the go-ahead. */
  function decide(ctx: CallContext, id: string, note: string) {
    return svc.audit.commit(ctx, async (op) => {
      const entry = await getDispute(kv, id);
      const r = entry.value;
      if (!r) throw notFound("dispute", id);
      const refusal = acceptRefusal(r);
      if (refusal) throw new AppError("conflict", `dispute ${id}: ${refusal}`);
      const at = new Date(clock.now()).toISOString();
      const large = r.amount >= config.refundApprovalThreshold;
      const pending = r.accept_request ?? null;
      if (large && pending?.requested_by === ctx.actor.id) {
        throw new AppError(
          "self_approval_forbidden",
          `you asked to accept dispute ${id}; a second operator must confirm it`,
        );
      }
      const request = large && !pending;
      const next: DisputeRecord = {
        ...r,
        accept_request: request ? { requested_by: ctx.actor.id, note, requested_at: at } : pending,
        updated_at: at,
        history: withDisputeHistory(r, {
          at,
          by: ctx.actor.id,
          action: request ? "accept_requested" : "accept",
          changes: { note },
        }),
      };
      addUpdateDispute(op, entry as Deno.KvEntry<DisputeRecord>, next);
      return {
        value: { record: next, request },
        audit: [{
          action: request ? "dispute.accept_requested" : "dispute.accept",
          target: { type: "dispute", id },
          result: "ok" as const,
          before: { status: r.status, phase: r.phase },
          after: {
            amount: r.amount,
            currency: r.currency,
            ...(pending && !request ? { requested_by: pending.requested_by } : {}),
          },
          reason: note,
        }],
      };
    });
  }

  /** POST /disputes/{id}/accept. */
  async function accept(ctx: CallContext, id: string, note: string): Promise<AcceptOutcome> {
    const decided = await decide(ctx, id, note);
    if (decided.request) return { kind: "awaiting_approval", record: decided.record };
    const key = `dispute-close:${id}`;
    let closed;
    try {
      closed = await deps.stripe.call(
        (s) => s.disputes.close(decided.record.stripe_dispute, {}, { idempotencyKey: key }),
        { label: "disputes.close" },
      );
    } catch (error) {
      // Closing twice closes once at Stripe (same key); a refusal is recorded beside the decision.
      await svc.audit.record(ctx, {
        action: "dispute.accept_failed",
        target: { type: "dispute", id },
        result: "failed",
        reason: error instanceof Error ? error.message : String(error),
        stripe: { idempotency_key: key },
      });
      throw error;
    }
    await svc.applyDispute(ctx, closed, key);
    return { kind: "closed", record: (await getDispute(kv, id)).value ?? decided.record };
  }

  return { accept };
}
