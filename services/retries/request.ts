/**
 * Before a retry reaches Stripe: which payments can be retried at all (a
 * PaymentIntent in `requires_payment_method`, 409 otherwise), the policy
 * (domain/retry.ts) on the facts read from KV, and the first commit: the
 * attempt recorded `processing` with the payment's counter and the card's
 * uses moved (both checked, so a parallel burst cannot exceed a cap), the
 * payment marked as having this attempt in flight, the reconciliation job,
 * the client's idempotency binding and the audit entry, all at once. Only
 * then is Stripe called (services/retries/confirm.ts). The attempt as first
 * recorded: attempt_record.ts; an attempt in flight and its job: in_flight.ts.
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { judgeRetry, recentCardUses } from "../../domain/retry.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import { addJob } from "../../kv/jobs.ts";
import { readTransactionState } from "../../kv/transactions.ts";
import {
  addAttemptCounts,
  addCreateRetry,
  getCardUses,
  getRetryState,
  listTransactionRetries,
  type RetryRecord,
} from "../../kv/retries.ts";
import { retryAuditView } from "./settlement.ts";
import { openAlertFor, type OpenFraudAlerts } from "./fraud_alerts.ts";
import { bindParts } from "../../core/bind.ts";
import { assertRetryable, priorDeclines, refusal, type Retryable } from "./retryable.ts";
import {
  inFlight,
  RETRY_RECONCILE_AFTER_MS,
  RETRY_RECONCILE_JOB,
  RETRY_RECONCILE_MAX_ATTEMPTS,
} from "./in_flight.ts";
import {
  type CreateRetryInput,
  newRetryRecord,
  type RetryPaymentMethod,
} from "./attempt_record.ts";

export interface RequestServices {
  audit: AuditService;
  newId: IdFactory;
  fraudAlerts: OpenFraudAlerts;
}

/**
 * The rules, before anything is sent to Stripe: the payment-wide ones, and the
 * card's too once it is known (`card`: read, before it is saved on the customer).
 */
async function preflight(
  p: ReqParts,
  ctx: CallContext,
  input: CreateRetryInput,
  card?: { fingerprint: string | null; entered_at: number | null },
): Promise<Retryable> {
  const fingerprint = card?.fingerprint;
  const { kv, clock, config, svc } = p;
  const state = await readTransactionState(kv, input.transaction_id);
  const ok = assertRetryable(input.transaction_id, state.txn.value, state.sync.value);
  const [retries, rs, alert, confirmed, uses] = await Promise.all([
    listTransactionRetries(kv, ok.txn.id),
    getRetryState(kv, ok.txn.id),
    openAlertFor(svc.fraudAlerts, ok.customer, ok.sync, fingerprint),
    svc.fraudAlerts.confirmedAlert(ok.customer, clock.now()),
    fingerprint ? getCardUses(kv, fingerprint) : Promise.resolve(null),
  ]);
  const verdict = judgeRetry({
    now: clock.now(),
    fraudConfirmed: confirmed,
    declines: priorDeclines(ok.sync, retries),
    attempts: rs.value?.attempts ?? 0,
    ...(card
      ? {
        fingerprint,
        cardUses: uses?.value?.uses ?? [],
        cardLockedAt: uses?.value?.locked_at ?? null,
        cardEnteredAt: card.entered_at,
      }
      : {}),
    openFraudAlert: alert !== null,
    openFraudAlertId: alert?.id ?? null,
    openFraudAlertOn: alert?.on,
    confirmFraudAlert: input.confirm_fraud_alert === true,
    note: input.note ?? null,
    limits: config.retry,
  });
  if (!verdict.ok) throw refusal(verdict);
  if (rs.value?.in_flight) throw await inFlight(kv, rs.value.in_flight, ctx, clock.now());
  return ok;
}

/** The card's uses with this attempt added (none when the card has no fingerprint). */
function cardUse(
  fingerprint: string | null,
  uses: Awaited<ReturnType<typeof getCardUses>> | null,
  now: number,
  maxPerDay: number,
) {
  if (!fingerprint || !uses) return null;
  return {
    fingerprint,
    entry: uses,
    uses: [...recentCardUses(uses.value?.uses ?? [], now, maxPerDay), now],
  };
}

/** The first commit; throws `retry_refused` / 409 with nothing written. */
function record(
  p: ReqParts,
  ctx: CallContext,
  id: string,
  input: CreateRetryInput,
  pm: RetryPaymentMethod,
  binding: IdempotencyBinding | null,
): Promise<RetryRecord> {
  const { kv, clock, config, svc } = p;
  return svc.audit.commit(ctx, async (op) => {
    const state = await readTransactionState(kv, input.transaction_id);
    const ok = assertRetryable(input.transaction_id, state.txn.value, state.sync.value);
    op.check(state.sync);
    const fingerprint = pm.card?.fingerprint ?? null;
    const now = clock.now();
    const [retries, rs, uses, alert, confirmed] = await Promise.all([
      listTransactionRetries(kv, ok.txn.id),
      getRetryState(kv, ok.txn.id),
      fingerprint ? getCardUses(kv, fingerprint) : Promise.resolve(null),
      openAlertFor(svc.fraudAlerts, ok.customer, ok.sync, fingerprint),
      svc.fraudAlerts.confirmedAlert(ok.customer, now),
    ]);
    if (rs.value?.in_flight) throw await inFlight(kv, rs.value.in_flight, ctx, clock.now());
    const verdict = judgeRetry({
      now,
      fraudConfirmed: confirmed,
      declines: priorDeclines(ok.sync, retries),
      attempts: rs.value?.attempts ?? 0,
      fingerprint,
      cardUses: uses?.value?.uses ?? [],
      // Stripe's lock on the card, read from the entry checked below (kv/retries.ts)
      cardLockedAt: uses?.value?.locked_at ?? null,
      cardEnteredAt: pm.entered_at,
      openFraudAlert: alert !== null,
      openFraudAlertId: alert?.id ?? null,
      openFraudAlertOn: alert?.on,
      confirmFraudAlert: input.confirm_fraud_alert === true,
      note: input.note ?? null,
      limits: config.retry,
    });
    if (!verdict.ok) throw refusal(verdict);
    const iso = new Date(now).toISOString();
    const job = addJob(op, clock, svc.newId, RETRY_RECONCILE_JOB, { retry_id: id }, {
      dueAt: now + RETRY_RECONCILE_AFTER_MS,
      maxAttempts: RETRY_RECONCILE_MAX_ATTEMPTS,
    });
    const r = newRetryRecord(id, input, ok, pm, {
      by: ctx.actor.id,
      at: iso,
      job: { id: job.id, due_at: job.due_at },
    });
    addCreateRetry(op, r);
    addAttemptCounts(
      op,
      ok.txn.id,
      rs,
      { attempts: (rs.value?.attempts ?? 0) + 1, in_flight: id },
      cardUse(fingerprint, uses, now, config.retry.maxPerCardPerDay),
    );
    await binding?.bind(op, id);
    return {
      value: r,
      audit: [{
        action: "retry.create",
        target: { type: "retry", id },
        result: "ok",
        after: {
          ...retryAuditView(r),
          attempt: (rs.value?.attempts ?? 0) + 1,
          confirm_fraud_alert: r.confirm_fraud_alert,
          open_fraud_alert: alert?.id ?? null,
          fraud_confirmed_by: confirmed,
          // sent after this commit: recorded here, so it is never unaudited
          attach: r.attach
            ? { customer: r.customer, stripe_idempotency_key: r.attach.idempotency_key }
            : null,
        },
        reason: r.note,
        stripe: { idempotency_key: r.stripe_idempotency_key },
      }],
    };
  });
}

/** What the factory's steps work with. */
interface ReqParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  config: Deps["config"];
  svc: RequestServices;
}

export function createRetryRequests(deps: Deps, svc: RequestServices) {
  const p: ReqParts = { kv: deps.kv, clock: deps.clock, config: deps.config, svc };

  return {
    preflight: bindParts(p, preflight),
    record: bindParts(p, record),
  };
}
