/**
 * Ending a refund that moved no money (refused by Stripe, rejected, expired,
 * never reached Stripe): its reservation and daily-cap share are given back in
 * the commit that records how it ended, with its audit entry (and, when money
 * that was owed did not move, an ops alert).
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { AppError } from "../../core/errors.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import type { OpsAlert } from "../../kv/ops_alerts.ts";
import {
  addDailyTotal,
  addJobRemoval,
  addTransactionReserved,
  addUpdateRefund,
  getRefund,
  getTransactionEntry,
} from "../../kv/refunds.ts";
import {
  hasLapsed,
  type RefundRecord,
  type RefundStatus,
  withHistory,
} from "../../domain/refund.ts";
import { addRefundAlert } from "./alerts.ts";
import { refundAuditView } from "./settlement.ts";

/** What a release works with. */
export interface ReleaseParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  log: Deps["log"];
  svc: { audit: AuditService; newId: IdFactory };
}

/** How a release ends a refund. */
export interface ReleaseOutcome {
  status: Extract<RefundStatus, "failed" | "rejected" | "expired">;
  /** only from these statuses (a concurrent settle or decision wins) */
  from: RefundStatus[];
  action: string;
  reason: string;
  failure_reason?: string | null;
  decided_by?: string;
  stripe?: { request_id?: string | null; idempotency_key?: string | null };
  /** also raise an ops alert of this kind (money that was owed did not move) */
  alert?: OpsAlert["kind"];
  binding?: IdempotencyBinding | null;
}

/**
 * Ends a refund that moved no money (refused by Stripe, rejected, expired, never
 * reached Stripe): its reservation and daily-cap share are given back.
 */
export async function release(
  { kv, svc, log, clock }: ReleaseParts,
  ctx: CallContext,
  id: string,
  outcome: ReleaseOutcome,
): Promise<RefundRecord | null> {
  return await svc.audit.commit(ctx, async (op) => {
    const entry = await getRefund(kv, id);
    const before = entry.value;
    const now = clock.now();
    if (!before || !outcome.from.includes(before.status)) {
      return { value: null, audit: [] };
    }
    // past its deadline a request is no longer anyone's to reject (README, "Two-person rules")
    if (outcome.status === "rejected" && hasLapsed(before, now)) return { value: null, audit: [] };
    const iso = new Date(now).toISOString();
    if (before.reserved > 0) {
      const txn = await getTransactionEntry(kv, before.transaction_id);
      if (txn.value) {
        addTransactionReserved(
          op,
          txn as Deno.KvEntry<typeof txn.value>,
          Math.max(0, txn.value.amount_reserved - before.reserved),
          now,
        );
      }
    }
    if (before.cap_day) addDailyTotal(op, before.requested_by, before.cap_day, -before.amount);
    if (before.job) addJobRemoval(op, before.job);
    const after: RefundRecord = {
      ...before,
      status: outcome.status,
      failure_reason: outcome.failure_reason ?? before.failure_reason,
      reserved: 0,
      cap_day: null,
      job: null,
      rejected_by: outcome.status === "rejected" ? outcome.decided_by ?? null : before.rejected_by,
      decision_note: outcome.status === "rejected" ? outcome.reason : before.decision_note,
      updated_at: iso,
      settled_at: iso,
      history: withHistory(before, {
        at: iso,
        status: outcome.status,
        by: ctx.actor.id,
        note: outcome.reason,
      }),
    };
    addUpdateRefund(op, entry as Deno.KvEntry<RefundRecord>, after);
    await outcome.binding?.bind(op, id);
    const alert = outcome.alert
      ? [addRefundAlert(op, { newId: svc.newId, log }, after, outcome.alert, outcome.reason)]
      : [];
    return {
      value: after,
      audit: [{
        action: outcome.action,
        target: { type: "refund", id },
        result: outcome.status === "failed" ? "failed" : "ok",
        before: { status: before.status, reserved: before.reserved },
        after: refundAuditView(after),
        reason: outcome.reason,
        ...(outcome.stripe ? { stripe: outcome.stripe } : {}),
      }, ...alert],
    };
  }, { shared: true });
}

/** Releases after Stripe refused; the refund shows `failed` with Stripe's reason. */
export function releaseRefused(
  p: ReleaseParts,
  ctx: CallContext,
  record: RefundRecord,
  error: AppError,
) {
  const stripe = (error.extra?.stripe ?? {}) as {
    code?: string | null;
    request_id?: string | null;
  };
  return release(p, ctx, record.id, {
    status: "failed",
    from: ["processing"],
    action: "refund.failed",
    reason: error.message,
    failure_reason: stripe.code ?? "stripe_refused",
    stripe: {
      request_id: stripe.request_id ?? null,
      idempotency_key: record.stripe_idempotency_key,
    },
  });
}
