/**
 * Refunds of an alert's payments as `fraudulent`, each through the refunds
 * path (its checks, its maker-checker), each linked to the alert (README
 * "Fraud detection": workflow). An `Idempotency-Key` covers the whole
 * request as on the other POSTs: the same key and body answer the first
 * answer again (`replayed`), another body is 422 `idempotency_key_reused`.
 * Each refund also carries the key with its transaction id, so a request
 * whose process died part way makes no refund twice when sent again.
 *
 * An alert's payments include declined ones where its rule counts failures
 * (velocity, declines, churn, Stripe's risk level on a blocked charge): a
 * payment with no money captured is not sent to the refund path, it is
 * listed in `skipped` with its status (README "Fraud detection": workflow).
 */
import type { Clock } from "../../core/clock.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { AuditService } from "../audit/mod.ts";
import type { RefundResult } from "../refunds/mod.ts";
import { isUndecided } from "../../domain/refund.ts";
import { AppError, notFound } from "../../core/errors.ts";
import { ALERT_MAX_REFUNDS, fraudKeys as keys, getAlert } from "../../kv/fraud.ts";
import { getTransaction } from "../../kv/transactions.ts";
import type { TxnStatus } from "../../domain/transaction.ts";
import {
  type IdempotencyBinding,
  idempotencyScope,
  processingIn,
  requestFingerprint,
  runIdempotent,
} from "../../kv/idempotency.ts";
import { auditRefusal } from "./denied.ts";

export interface RefundPort {
  createForFraudAlert(
    ctx: CallContext,
    input: {
      transaction_id: string;
      note: string;
      fraud_alert_id: string;
      confirm_duplicate?: boolean;
    },
  ): Promise<RefundResult>;
  /** a refund as it stands (what GET /refunds/{id} answers) */
  get(id: string): Promise<RefundResult["refund"]>;
  /**
   * why `ctx` may not resolve the alert legitimate (409: refunds it would void that `ctx` may
   * not decide), or null
   */
  fraudAlertResolutionRefusal(
    ctx: CallContext,
    alert: { id: string; transactions: string[] },
  ): Promise<AppError | null>;
  /** ends the alert's fraudulent refunds awaiting approval; returns their ids */
  voidForFraudAlert(
    ctx: CallContext,
    alert: { id: string; transactions: string[] },
    note: string,
  ): Promise<string[]>;
}

interface AlertRefundParts {
  kv: Deno.Kv;
  clock: Clock;
  svc: { audit: AuditService; refunds: RefundPort };
  iso: () => string;
}

export interface AlertRefundResult {
  transaction_id: string;
  status: number;
  refund?: unknown;
  error?: string;
}

/** A payment of the alert not sent to the refund path: Stripe captured nothing of it. */
export interface AlertRefundSkip {
  transaction_id: string;
  transaction_status: TxnStatus;
  reason: string;
}

export interface AlertRefunds {
  alert_id: string;
  results: AlertRefundResult[];
  /** absent on answers kept before it existed (an idempotent replay answers those as they were) */
  skipped?: AlertRefundSkip[];
}

/**
 * A payment in these states took no money (declined, canceled, never completed): there is
 * nothing to refund. An authorization (`requires_capture`) and a payment still `processing`
 * go to the refund path, which explains them (release the authorization; wait).
 */
const NOTHING_CAPTURED: ReadonlySet<TxnStatus> = new Set<TxnStatus>([
  "failed",
  "canceled",
  "requires_payment_method",
  "requires_confirmation",
  "requires_action",
]);

/** Why `transaction` has nothing to refund, or null when it goes to the refund path. */
async function nothingToRefund(kv: Deno.Kv, txnId: string): Promise<AlertRefundSkip | null> {
  const txn = await getTransaction(kv, txnId);
  // unknown here (merged into another, say): the refund path finds it or says why
  if (!txn || !NOTHING_CAPTURED.has(txn.status) || (txn.amount_captured ?? 0) > 0) return null;
  return {
    transaction_id: txnId,
    transaction_status: txn.status,
    reason: `nothing was captured of ${txnId} (${txn.status}${
      txn.status === "failed" ? ": declined" : ""
    }): the alert's rule counts the attempt, but there is no money to refund`,
  };
}

/**
 * What the operator sent: the note, and `confirm_duplicate` (as on `POST /refunds`: refund a
 * payment again although the same refund of it was asked for in the last 10 minutes), passed
 * to each payment's refund.
 */
export interface AlertRefundAsk {
  note: string;
  confirm_duplicate?: boolean;
}

const ROUTE = "POST /fraud/alerts/{id}/refunds";

export async function refundAlert(
  p: AlertRefundParts,
  ctx: CallContext,
  id: string,
  input: AlertRefundAsk,
): Promise<AlertRefunds & { replayed: boolean }> {
  const scope = idempotencyScope(ctx, ROUTE);
  // `confirm_duplicate: false` is the default: the same body as none (and as before it existed)
  const ask = { note: input.note, ...(input.confirm_duplicate ? { confirm_duplicate: true } : {}) };
  const fingerprint = await requestFingerprint({ id, ...ask });
  const res = await runIdempotent(p.kv, p.clock, scope, fingerprint, {
    run: async (binding) => ({ body: await requestRefunds(p, ctx, id, ask, binding) }),
    // the request's commit went through but its answer was not kept: each refund answers again
    // (under its own key); a refund that was refused before and is made now is this request acting
    resume: async (alertId) => {
      const acted = { now: false };
      const done = await refundEach(p, ctx, alertId, ask, undefined, acted);
      return { body: { alert_id: alertId, ...done }, acted: acted.now };
    },
    inProgress: (stored) => refundsAsTheyStand(p, stored.body as AlertRefunds),
  });
  return { ...(res.body as AlertRefunds), replayed: res.replayed };
}

/**
 * A stored answer sent again: its refunds answered `202 processing` (Stripe's outcome unknown
 * then) as they stand now, each as `POST /refunds` answers it, the key's answer once none is
 * `processing` (README "A first session"); null when none was, the answer being final.
 */
async function refundsAsTheyStand(p: AlertRefundParts, answer: AlertRefunds) {
  const processing = (r: AlertRefundResult) => processingIn({ body: r.refund ?? null });
  if (!answer.results?.some((r) => processing(r) !== null)) return null;
  const results: AlertRefundResult[] = [];
  for (const r of answer.results) {
    const id = processing(r);
    const refund = id === null ? null : await p.svc.refunds.get(id);
    results.push(refund ? { ...r, status: isUndecided(refund.status) ? 202 : 201, refund } : r);
  }
  return { body: { ...answer, results }, settled: results.every((r) => processing(r) === null) };
}

async function requestRefunds(
  p: AlertRefundParts,
  ctx: CallContext,
  id: string,
  ask: AlertRefundAsk,
  binding: IdempotencyBinding | null,
): Promise<AlertRefunds> {
  const { kv, svc, iso } = p;
  const { note } = ask;
  const alert = (await getAlert(kv, id)).value;
  if (!alert) throw notFound("fraud alert", id);
  if (alert.status === "resolved_legitimate") {
    const refusal = new AppError(
      "conflict",
      `alert ${id} is resolved_legitimate: its payments were judged legitimate and are not ` +
        "refunded as fraudulent; refund one through POST /api/admin/payments/refunds with another reason",
    );
    const entry = {
      action: "fraud_alert.refunds_requested",
      target: { type: "fraud_alert", id },
      after: { note },
    };
    await auditRefusal(svc.audit, ctx, entry, () => Promise.reject(refusal));
  }
  const { results, skipped } = await refundEach(p, ctx, id, ask, alert.transactions, {
    now: false,
  });
  const refundIds = results.map((r) => (r.refund as { id?: string } | undefined)?.id)
    .filter((x): x is string => !!x);
  await svc.audit.commit(ctx, async (op) => {
    const entry = await getAlert(kv, id);
    if (!entry.value) throw notFound("fraud alert", id);
    const refunds = [...new Set([...entry.value.refunds, ...refundIds])].slice(-ALERT_MAX_REFUNDS);
    op.check(entry);
    op.set(keys.fraudAlert(id), { ...entry.value, refunds, updated_at: iso() });
    await binding?.bind(op, id);
    return {
      value: null,
      audit: [{
        action: "fraud_alert.refunds_requested",
        target: { type: "fraud_alert", id },
        // every refund refused: nothing was asked of anyone
        result: refundIds.length > 0 ? "ok" : "denied",
        after: {
          refunds: refundIds,
          results: results.map((r) => [r.transaction_id, r.status]),
          ...(skipped.length > 0
            ? { skipped: skipped.map((r) => [r.transaction_id, r.transaction_status]) }
            : {}),
          ...(ask.confirm_duplicate ? { confirm_duplicate: true } : {}),
        },
        reason: note,
      }],
    };
  });
  return { alert_id: id, results, skipped };
}

/**
 * One refund per payment with money captured, as `POST /refunds` answers it
 * (201, 202) or refuses it (4xx), and the payments skipped, nothing captured;
 * `acted.now` is set when one of them was made by this call, not answered
 * again from its key.
 */
async function refundEach(
  p: AlertRefundParts,
  ctx: CallContext,
  id: string,
  ask: AlertRefundAsk,
  transactions: string[] | undefined,
  acted: { now: boolean },
): Promise<{ results: AlertRefundResult[]; skipped: AlertRefundSkip[] }> {
  const txns = transactions ?? (await getAlert(p.kv, id)).value?.transactions ?? [];
  const results: AlertRefundResult[] = [];
  const skipped: AlertRefundSkip[] = [];
  for (const txnId of txns) {
    const skip = await nothingToRefund(p.kv, txnId);
    if (skip) {
      skipped.push(skip);
      continue;
    }
    const key = ctx.idempotency_key ? `${ctx.idempotency_key}:${txnId}` : undefined;
    try {
      const r = await p.svc.refunds.createForFraudAlert(
        { ...ctx, ...(key ? { idempotency_key: key } : {}) },
        { transaction_id: txnId, ...ask, fraud_alert_id: id },
      );
      // 202 while awaiting approval or Stripe's outcome, else 201
      const status = isUndecided(r.refund.status) ? 202 : 201;
      if (!r.replayed) acted.now = true;
      results.push({ transaction_id: txnId, status, refund: r.refund });
    } catch (e) {
      if (!(e instanceof AppError) || e.status >= 500) throw e;
      results.push({ transaction_id: txnId, status: e.status, error: `${e.code}: ${e.message}` });
    }
  }
  return { results, skipped };
}
