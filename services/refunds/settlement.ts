/**
 * Settling a local refund from what Stripe says about it. This is the hook the
 * Stripe event applier calls (services/ingest/apply.ts `RefundSettlementHook`)
 * inside the commit that records a change to a Stripe refund, whoever brings
 * the news first: the refund service right after its call, a webhook, the
 * reconciliation job. The applier only calls it when Stripe's refund moved,
 * and the record's `reserved` falls to 0 the first time, so nothing is ever
 * counted twice.
 *
 *   - a refund with `metadata.refund_id` settles that record: its reservation
 *     is released (Stripe's refund now counts in `amount_refunded`, or failed);
 *   - one without (made in the Stripe Dashboard) gets a record of its own,
 *     `requested_by: "stripe_dashboard"`;
 *   - a refund that fails after Stripe accepted it raises an ops alert (alerts.ts)
 *     (`["ops_alerts", id]`, an error log line, and an `ops_alert.raise` audit entry);
 *     the ledger takes it back by itself (services/ingest/ledger.ts `refund_reversal`).
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import { type AuditInput } from "../audit/mod.ts";
import { type RefundSettlementHook, type StripeRequestRef } from "../ingest/mod.ts";
import type { RefundSnap, Transaction } from "../../domain/transaction.ts";
import type { IdFactory } from "../../core/ids.ts";
import {
  addCreateRefund,
  addDailyTotal,
  addJobRemoval,
  addUpdateRefund,
  getRefund,
  getRefundIdByStripeRefund,
} from "../../kv/refunds.ts";
import {
  REFUND_REASONS,
  type RefundReason,
  type RefundRecord,
  type RefundStatus,
  withHistory,
} from "../../domain/refund.ts";
import { addFailedAfterSuccessAlert, type AlertParts } from "./alerts.ts";
import { readRefundFor } from "./read_ahead.ts";

export const DASHBOARD_REQUESTER = "stripe_dashboard";

const STRIPE_STATUSES: Record<string, RefundStatus> = {
  pending: "pending",
  requires_action: "requires_action",
  succeeded: "succeeded",
  failed: "failed",
  canceled: "canceled",
};

/** Stripe accepted it: the money was (or is being) sent. */
const ACCEPTED: ReadonlySet<RefundStatus> = new Set(["pending", "requires_action", "succeeded"]);

function localStatus(stripeStatus: string): RefundStatus {
  return STRIPE_STATUSES[stripeStatus] ?? "pending";
}

function reasonOf(value: string | null | undefined): RefundReason | null {
  return (REFUND_REASONS as readonly string[]).includes(value ?? "") ? value as RefundReason : null;
}

/** The audit `after` of a refund: what matters about money, never the note's history. */
export function refundAuditView(r: RefundRecord) {
  return {
    status: r.status,
    amount: r.amount,
    currency: r.currency,
    transaction_id: r.transaction_id,
    reason: r.reason,
    stripe_refund: r.stripe_refund,
    reserved: r.reserved,
    requested_by: r.requested_by,
    approved_by: r.approved_by,
  };
}

export interface SettlementServices {
  newId: IdFactory;
}

/** What settling works with. */
interface SettlementParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  log: Deps["log"];
  svc: SettlementServices;
  alerts: AlertParts;
}

/**
 * Our record of this Stripe refund: the one its metadata names, when that
 * record is for the same transaction (metadata copied by hand onto another
 * payment's refund must not settle, nor release the reservation of, a
 * refund of another transaction), else the one recorded for its `re_` id.
 */
async function findRecord(
  p: SettlementParts,
  re: Stripe.Refund,
  snap: RefundSnap,
  txn: Transaction,
) {
  const { kv, log } = p;
  const localId = snap.refund_id ?? re.metadata?.refund_id ?? null;
  if (localId) {
    const entry = await readRefundFor(kv, re, localId);
    const r = entry.value;
    if (r && (!r.stripe_refund || r.stripe_refund === re.id)) {
      if (r.transaction_id === txn.id) return entry as Deno.KvEntry<RefundRecord>;
      log.warn("a Stripe refund names a refund of another transaction; not settled there", {
        stripe_refund: re.id,
        refund_id: r.id,
        refund_transaction: r.transaction_id,
        transaction_id: txn.id,
      });
    }
  }
  const byStripe = await getRefundIdByStripeRefund(kv, re.id);
  if (byStripe.value) {
    const entry = await getRefund(kv, byStripe.value);
    if (entry.value) return entry as Deno.KvEntry<RefundRecord>;
  }
  return null;
}

function recordExternal(
  p: SettlementParts,
  op: Deno.AtomicOperation,
  re: Stripe.Refund,
  snap: RefundSnap,
  txn: Transaction,
): AuditInput[] {
  const { clock, svc } = p;
  const now = new Date(clock.now()).toISOString();
  const status = localStatus(snap.status);
  const foreign = snap.refund_id ?? re.metadata?.refund_id;
  const record: RefundRecord = {
    id: svc.newId("rfd"),
    transaction_id: txn.id,
    amount: snap.amount,
    currency: snap.currency,
    reason: reasonOf(snap.reason),
    note: foreign
      ? `made outside this service (its metadata names ${foreign}, not a refund of this payment)`
      : "made outside this service (Stripe Dashboard or API)",
    status,
    requested_by: DASHBOARD_REQUESTER,
    approved_by: null,
    rejected_by: null,
    decision_note: null,
    stripe_refund: snap.id,
    stripe_status: snap.status,
    failure_reason: snap.failure_reason,
    fraud_alert_id: null,
    stripe_idempotency_key: "",
    approval_reasons: [],
    approval_hash: null,
    expires_at: null,
    reserved: 0,
    cap_day: null,
    sent_at: null,
    job: null,
    stripe_target: null,
    created_at: now,
    updated_at: now,
    settled_at: now,
    history: [{ at: now, status, by: "stripe", note: `seen at Stripe as ${snap.id}` }],
  };
  addCreateRefund(op, record);
  const recorded: AuditInput = {
    action: "refund.record_external",
    target: { type: "refund", id: record.id },
    result: "ok",
    after: refundAuditView(record),
    reason: record.note,
  };
  // A refund is failed only after Stripe accepted it: first seen failed (its earlier events
  // late or lost), it is the same news as seen pending, then failed.
  if (status !== "failed") return [recorded];
  return [
    recorded,
    addFailedAfterSuccessAlert(
      op,
      p.alerts,
      record,
      record,
      "accepted at Stripe (first seen here failed)",
    ),
  ];
}

function settle(
  p: SettlementParts,
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<RefundRecord>,
  snap: RefundSnap,
  txn: Transaction,
  stripeRequest: StripeRequestRef | null,
): AuditInput[] {
  const { clock } = p;
  const before = entry.value;
  const status = localStatus(snap.status);
  if (
    before.status === status && before.stripe_refund === snap.id &&
    before.stripe_status === snap.status && before.reserved === 0
  ) return [];
  const now = new Date(clock.now()).toISOString();
  // The reservation held the amount until Stripe answered; from now on Stripe's
  // refund counts in amount_refunded (or, failed, nowhere).
  txn.amount_reserved = Math.max(0, txn.amount_reserved - before.reserved);
  const released = status === "failed" || status === "canceled";
  if (released && before.cap_day && before.requested_by !== DASHBOARD_REQUESTER) {
    addDailyTotal(op, before.requested_by, before.cap_day, -before.amount);
  }
  if (before.job) addJobRemoval(op, before.job);
  const after: RefundRecord = {
    ...before,
    status,
    stripe_refund: snap.id,
    stripe_status: snap.status,
    failure_reason: snap.failure_reason,
    reserved: 0,
    cap_day: released ? null : before.cap_day,
    job: null,
    updated_at: now,
    settled_at: before.settled_at ?? now,
    history: before.status === status ? before.history : withHistory(before, {
      at: now,
      status,
      by: "stripe",
      note: snap.failure_reason ? `${snap.id}: ${snap.failure_reason}` : snap.id,
    }),
  };
  addUpdateRefund(op, entry, after);
  const audit: AuditInput[] = [{
    action: released ? "refund.failed" : "refund.settle",
    target: { type: "refund", id: after.id },
    result: released ? "failed" : "ok",
    before: { status: before.status, reserved: before.reserved },
    after: refundAuditView(after),
    reason: snap.failure_reason,
    // the request that brought Stripe's word: its answer, a reconciliation's look-up, the event's
    stripe: {
      request_id: stripeRequest?.request_id ?? null,
      idempotency_key: before.stripe_idempotency_key || null,
    },
  }];
  // Failed after Stripe accepted it: seen accepted here, or while its answer was lost
  // (`processing`): only an accepted refund can fail, so the customer is still owed it.
  const owed = ACCEPTED.has(before.status) ||
    (before.status === "processing" && status === "failed");
  if (released && owed) audit.push(addFailedAfterSuccessAlert(op, p.alerts, before, after));
  return audit;
}

export function createRefundSettlement(deps: Deps, svc: SettlementServices): RefundSettlementHook {
  const alerts = { newId: svc.newId, log: deps.log };
  const p: SettlementParts = { kv: deps.kv, clock: deps.clock, log: deps.log, svc, alerts };

  return async (op, stripeRefund, txn, change, stripeRequest) => {
    const entry = await findRecord(p, stripeRefund, change.after, txn);
    if (!entry) return recordExternal(p, op, stripeRefund, change.after, txn);
    return settle(p, op, entry, change.after, txn, stripeRequest);
  };
}
