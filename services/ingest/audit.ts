/**
 * The audit entries for what Stripe changed on money or a case: a refund
 * recorded, settled, failed or canceled; a dispute opened, moved, funds taken
 * or given back. Plain ingestion (a payment succeeding, a customer updated)
 * is in the webhook-event log instead.
 */
import { type AuditInput } from "../audit/mod.ts";
import type { Change } from "./merge.ts";
import type { DisputeSnap, RefundSnap, Transaction } from "../../domain/transaction.ts";

const REFUND_ACTION: Record<string, string> = {
  pending: "refund.stripe_pending",
  requires_action: "refund.stripe_requires_action",
  succeeded: "refund.stripe_settled",
  failed: "refund.stripe_failed",
  canceled: "refund.stripe_canceled",
};

export function auditEntriesFor(
  changes: Change[],
  before: Transaction | null,
  after: Transaction,
  stripe: AuditInput["stripe"] | null,
): AuditInput[] {
  const target = { type: "transaction", id: after.id };
  const base = { target, result: "ok" as const, ...(stripe ? { stripe } : {}) };
  const out: AuditInput[] = [];
  for (const c of changes) {
    if (c.kind === "refund") {
      const was = c.before as RefundSnap | null;
      const now = c.after as RefundSnap;
      if (was?.status === now.status) continue; // metadata only
      out.push({
        ...base,
        action: REFUND_ACTION[now.status] ?? "refund.stripe_status",
        before: {
          stripe_refund: now.id,
          status: was?.status ?? null,
          amount_refunded: before?.amount_refunded ?? 0,
        },
        after: {
          stripe_refund: now.id,
          refund_id: now.refund_id,
          status: now.status,
          amount: now.amount,
          currency: now.currency,
          amount_refunded: after.amount_refunded,
        },
        reason: now.failure_reason,
      });
    }
    if (c.kind === "dispute") {
      const was = c.before as DisputeSnap | null;
      const now = c.after as DisputeSnap;
      const summary = (d: DisputeSnap | null) =>
        d && { stripe_dispute: d.id, status: d.status, amount: d.amount, currency: d.currency };
      if (!was || was.status !== now.status) {
        out.push({
          ...base,
          action: was ? "dispute.stripe_status_changed" : "dispute.stripe_opened",
          before: summary(was),
          after: { ...summary(now), reason: now.reason, amount_disputed: after.amount_disputed },
          reason: now.reason,
        });
      }
      if (now.withdrawn > (was?.withdrawn ?? 0)) {
        out.push({
          ...base,
          action: "dispute.funds_withdrawn",
          before: { stripe_dispute: now.id, withdrawn: was?.withdrawn ?? 0 },
          after: { stripe_dispute: now.id, withdrawn: now.withdrawn, currency: now.currency },
        });
      }
      if (now.reinstated > (was?.reinstated ?? 0)) {
        out.push({
          ...base,
          action: "dispute.funds_reinstated",
          before: { stripe_dispute: now.id, reinstated: was?.reinstated ?? 0 },
          after: { stripe_dispute: now.id, reinstated: now.reinstated, currency: now.currency },
        });
      }
    }
  }
  return out;
}
