/**
 * Before a retry reaches Stripe: which payments can be retried at all (a
 * PaymentIntent in `requires_payment_method`, 409 otherwise), the policy
 * (domain/retry.ts) on the facts read from KV, and the first commit: the
 * attempt recorded `processing` with the payment's counter and the card's
 * uses moved (both checked, so a parallel burst cannot exceed a cap), the
 * payment marked as having this attempt in flight, the reconciliation job,
 * the client's idempotency binding and the audit entry, all at once. Only
 * then is Stripe called (services/retries/confirm.ts).
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import { byWhom, type CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { judgeRetry, recentCardUses } from "../../domain/retry.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { IdempotencyBinding } from "../../kv/idempotency.ts";
import { addJob } from "../../kv/jobs.ts";
import { readTransactionState } from "../../kv/transactions.ts";
import {
  addAttemptCounts,
  addCreateRetry,
  type CardSummary,
  getCardUses,
  getRetry,
  getRetryState,
  listTransactionRetries,
  type RetryRecord,
} from "../../kv/retries.ts";
import { retryAuditView } from "./settlement.ts";
import type { OpenFraudAlerts } from "./fraud_alerts.ts";
import { bindParts } from "../../core/bind.ts";
import {
  assertRetryable,
  priorDeclines,
  refusal,
  type Retryable,
  retryConflict,
} from "./retryable.ts";

export { assertRetryable, priorDeclines, refusal, type Retryable } from "./retryable.ts";

export const RETRY_RECONCILE_JOB = "retry.reconcile";
/** reconciliation first looks after this long: beyond any Stripe call's timeout */
export const RETRY_RECONCILE_AFTER_MS = 60_000;
export const RETRY_RECONCILE_MAX_ATTEMPTS = 60;
/**
 * An attempt in flight is settled by its answer, else by reconciliation a minute after it
 * began (README "Retrying failed payments"): by this long at the latest, the job's minute and
 * a minute for the job runner to get to it.
 */
export const RETRY_SETTLED_WITHIN_MS = RETRY_RECONCILE_AFTER_MS + 60_000;

/**
 * `Retry-After` (seconds) of a refusal while attempt `createdAt` holds the payment: the time
 * left until reconciliation has looked at it; one still in flight after that waits on Stripe
 * and is looked at again, so a minute.
 */
export function inFlightRetryAfterS(createdAt: string | null, now: number): number {
  const left = createdAt === null ? 0 : Date.parse(createdAt) + RETRY_SETTLED_WITHIN_MS - now;
  return left > 0 ? Math.ceil(left / 1000) : RETRY_RECONCILE_AFTER_MS / 1000;
}

export interface CreateRetryInput {
  transaction_id: string;
  payment_method: string;
  note?: string;
  off_session?: boolean;
  confirm_fraud_alert?: boolean;
}

/**
 * 409 naming the attempt in flight, who sent it and when ("you" to whoever did), with
 * `Retry-After` until it is settled at the latest.
 */
async function inFlight(
  kv: Deno.Kv,
  retryId: string,
  ctx: CallContext,
  now: number,
): Promise<AppError> {
  const first = (await getRetry(kv, retryId)).value;
  const who = first ? `, sent ${byWhom(first.requested_by, first.created_at, ctx)}` : "";
  return retryConflict(
    new AppError(
      "conflict",
      `retry ${retryId} of this payment${who} is still in flight; wait for its outcome ` +
        `(GET /api/admin/payments/retries/${retryId})`,
      {
        extra: { retry_id: retryId },
        retryAfter: inFlightRetryAfterS(first?.created_at ?? null, now),
      },
    ),
  );
}

/** A new attempt, `processing`, nothing known from Stripe yet. */
function newRetryRecord(
  id: string,
  input: CreateRetryInput,
  ok: Retryable,
  pm: RetryPaymentMethod,
  meta: { by: string; at: string; job: RetryRecord["job"] },
): RetryRecord {
  return {
    id,
    transaction_id: ok.txn.id,
    customer: ok.customer,
    stripe_payment_intent: ok.pi,
    payment_method: pm.id,
    requested_payment_method: input.payment_method,
    card: pm.card,
    off_session: input.off_session !== false,
    note: input.note?.trim() || null,
    confirm_fraud_alert: input.confirm_fraud_alert === true,
    status: "processing",
    stripe_status: null,
    failure_code: null,
    decline_code: null,
    advice_code: null,
    failure_message: null,
    next_action: null,
    client_secret: null,
    stripe_charge: null,
    stripe_request_id: null,
    stripe_idempotency_key: `retry:${id}`,
    card_use: pm.card?.fingerprint ?? null,
    attach: pm.attach ? { idempotency_key: `retry-attach:${id}`, status: "pending" } : null,
    prior: {
      latest_charge: ok.sync.pi?.latest_charge ?? null,
      error_charge: ok.sync.pi?.error?.charge ?? null,
    },
    requested_by: meta.by,
    settled_by: null,
    job: meta.job,
    created_at: meta.at,
    updated_at: meta.at,
    settled_at: null,
  };
}

/**
 * The payment method to confirm with; `attach`: it is saved on the customer
 * after the commit; `entered_at`: when its details were entered (domain/retry.ts
 * `cardEnteredAt`).
 */
export interface RetryPaymentMethod {
  id: string;
  card: CardSummary | null;
  attach: boolean;
  entered_at: number | null;
}

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
    svc.fraudAlerts.openAlert(ok.customer),
    svc.fraudAlerts.confirmedAlert(ok.customer, clock.now()),
    fingerprint ? getCardUses(kv, fingerprint) : Promise.resolve(null),
  ]);
  const verdict = judgeRetry({
    now: clock.now(),
    fraudConfirmed: confirmed,
    declines: priorDeclines(ok.sync, retries),
    attempts: rs.value?.attempts ?? 0,
    ...(card
      ? { fingerprint, cardUses: uses?.value?.uses ?? [], cardEnteredAt: card.entered_at }
      : {}),
    openFraudAlert: alert !== null,
    openFraudAlertId: alert,
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
      svc.fraudAlerts.openAlert(ok.customer),
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
      cardEnteredAt: pm.entered_at,
      openFraudAlert: alert !== null,
      openFraudAlertId: alert,
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
          open_fraud_alert: alert,
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
