/**
 * Settling a retry attempt from what Stripe says about its PaymentIntent.
 *
 * The Stripe event applier calls `paymentSettlement` inside the commit that
 * records a change to a PaymentIntent, whoever brings the news: the confirm's
 * answer, a `payment_intent.*` webhook, the reconciliation job. The attempt in
 * flight on that payment (`["retry_states", txn]`) is settled there, in the
 * same commit as the transaction and the ledger, and only from `processing` or
 * `requires_action`: the first news settles it, the rest find nothing to do.
 * Which news is the attempt's own (a decline, a payment with its payment
 * method, or `superseded` by another): pi_outcome.ts. A decline Stripe gives
 * because it locked the card is noted on the card, for every payment (README
 * "Retry policy").
 */
import type { Deps } from "../deps.ts";
import type { AuditInput } from "../audit/mod.ts";
import type { PaymentSettlementHook } from "../ingest/mod.ts";
import {
  CARD_RATE_LIMIT_CODE,
  isRetryWaiting,
  NOT_SENT_CODE,
  SUPERSEDED_CODE,
} from "../../domain/retry.ts";
import {
  addAttemptCountsReleased,
  addCardLocked,
  addInFlightCleared,
  addPaymentMethodUse,
  addUpdateRetry,
  getCardUses,
  getRetry,
  getRetryState,
  type RetryRecord,
} from "../../kv/retries.ts";
import { addJobRemoval } from "../../kv/refunds.ts";
import { outcomeOfPi, ownCharge, releasesAttempt, type RetryOutcome } from "./pi_outcome.ts";

export { outcomeOfPi, ownCharge, releasesAttempt } from "./pi_outcome.ts";
export type { RetryOutcome } from "./pi_outcome.ts";

/** Details only the confirm's answer carries (next_action, client secret, request id), by retry id. */
export type AnswerDetails = Map<string, Partial<RetryOutcome> & { by?: string }>;

const SETTLEABLE = new Set(["processing", "requires_action", "requires_capture"]);

/** `before` settled by `outcome` (or, for a settled attempt, only the answer's missing details). */
export function settledRecord(
  before: RetryRecord,
  outcome: RetryOutcome,
  at: string,
  by: string,
): RetryRecord {
  const final = !isRetryWaiting(outcome.status);
  return {
    ...before,
    status: outcome.status,
    stripe_status: outcome.stripe_status ?? before.stripe_status,
    failure_code: outcome.failure_code ?? before.failure_code,
    decline_code: outcome.decline_code ?? before.decline_code,
    advice_code: outcome.advice_code ?? before.advice_code,
    failure_message: outcome.failure_message ?? before.failure_message,
    next_action: final ? null : outcome.next_action ?? before.next_action,
    client_secret: final ? null : outcome.client_secret ?? before.client_secret,
    // only a charge this attempt made: a superseded one charged nothing, and one recorded
    // with the PaymentIntent's earlier charge (before it was told apart) drops it
    stripe_charge: releasesAttempt(outcome)
      ? null
      : ownCharge(before, outcome.stripe_charge ?? before.stripe_charge),
    stripe_request_id: outcome.stripe_request_id ?? before.stripe_request_id,
    // who brought the latest news (filling in details of the same status keeps the first)
    settled_by: before.status === outcome.status ? before.settled_by ?? by : by,
    job: final ? null : before.job,
    updated_at: at,
    settled_at: final ? at : before.settled_at,
  };
}

/** The audit `after` of an attempt: never the client secret. */
export function retryAuditView(r: RetryRecord) {
  return {
    status: r.status,
    transaction_id: r.transaction_id,
    payment_method: r.payment_method,
    card: r.card ? { brand: r.card.brand, last4: r.card.last4 } : null,
    off_session: r.off_session,
    stripe_status: r.stripe_status,
    decline_code: r.decline_code,
    advice_code: r.advice_code,
    failure_code: r.failure_code,
    stripe_charge: r.stripe_charge,
    // Stripe did not act on it: off the payment's count and the card's uses
    ...(r.counted === false ? { counted: false } : {}),
  };
}

/**
 * Whether this news is the card's own answer to the attempt, so the payment method's
 * `last_used` moves (README "Retrying failed payments": when a retry last tried it, declined or
 * not): charged, authorized, sent for authentication, or failed by the card or its
 * authentication. Not a close of ours where nothing reached the card (Stripe showed no trace,
 * the PaymentIntent was canceled, a "try again"), nor the end of a wait the card already
 * answered (a capture, a release), nor details filled in for the same status.
 */
function triedTheCard(before: RetryRecord, outcome: RetryOutcome): boolean {
  if (outcome.status === "canceled" || outcome.status === before.status) return false;
  if (before.status === "requires_capture") return false;
  if (outcome.status !== "failed") return true;
  return !OUR_CLOSES.has(outcome.failure_code ?? "");
}

/** Failure codes this service gives an attempt that ended without reaching the card. */
const OUR_CLOSES = new Set([
  NOT_SENT_CODE,
  SUPERSEDED_CODE,
  "not_confirmed",
  "not_received_by_stripe",
  "payment_intent_canceled",
]);

/** Whether this settlement is Stripe's refusal of the attempt's card as declined too often. */
function lockedTheCard(before: RetryRecord, after: RetryRecord): boolean {
  return before.status !== "failed" && after.status === "failed" &&
    after.failure_code === CARD_RATE_LIMIT_CODE;
}

/**
 * Adds the settling of the attempt read as `entry` to `op`: the record, the
 * payment freed for the next attempt (unless waiting on the customer), the
 * job gone, the card's last use, Stripe's lock on the card. `release`: Stripe provably did not act on
 * it (a "try again", a refusal of the request itself, a confirm never sent),
 * so it no longer counts toward the caps (README "Retry policy"). Returns the
 * audit entry for the same commit.
 */
export async function addSettlement(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<RetryRecord>,
  outcome: RetryOutcome,
  meta: { at: string; by: string; release?: boolean },
): Promise<AuditInput> {
  const before = entry.value;
  const release = meta.release === true && before.counted !== false &&
    !isRetryWaiting(outcome.status);
  const after = settledRecord(before, outcome, meta.at, meta.by);
  if (release) after.counted = false;
  addUpdateRetry(op, entry, after);
  const fingerprint = before.card_use !== undefined
    ? before.card_use
    : before.card?.fingerprint ?? null;
  if (!isRetryWaiting(after.status)) {
    const state = await getRetryState(kv, before.transaction_id);
    if (release) {
      const card = fingerprint
        ? {
          fingerprint,
          entry: await getCardUses(kv, fingerprint),
          usedAt: Date.parse(before.created_at),
        }
        : null;
      addAttemptCountsReleased(op, before.transaction_id, before.id, state, card);
    } else addInFlightCleared(op, before.transaction_id, state, before.id);
    if (before.job) addJobRemoval(op, before.job);
  }
  // Stripe locked the card: the lock is the card's, on every payment (README "Retry policy")
  if (fingerprint && !release && lockedTheCard(before, after)) {
    addCardLocked(op, fingerprint, await getCardUses(kv, fingerprint), Date.parse(meta.at));
  }
  if (meta.release !== true && triedTheCard(before, outcome)) {
    addPaymentMethodUse(op, after.payment_method, meta.at);
  }
  return {
    action: "retry.settle",
    target: { type: "retry", id: after.id },
    result: after.status === "failed" ? "failed" : "ok",
    before: { status: before.status },
    after: { ...retryAuditView(after), settled_by: meta.by },
    reason: after.failure_message,
    stripe: {
      request_id: after.stripe_request_id,
      idempotency_key: after.stripe_idempotency_key,
    },
  };
}

/** The hook handed to the Stripe event applier (services/mod.ts). */
export function createPaymentSettlement(
  deps: Deps,
  answers: AnswerDetails,
): PaymentSettlementHook {
  // Read like the applier's own reads (the second handle on a local file); checked at commit.
  const kv = deps.kvReads ?? deps.kv;
  const { clock } = deps;
  return async (op, pi, txn, stripeRequest) => {
    const state = await getRetryState(kv, txn.id);
    const id = state.value?.in_flight;
    if (!id) return [];
    const entry = await getRetry(kv, id);
    const record = entry.value;
    if (!record || !SETTLEABLE.has(record.status) || record.stripe_payment_intent !== pi.id) {
      return [];
    }
    const outcome = outcomeOfPi(record, pi);
    if (!outcome) return [];
    const answer = answers.get(id);
    const { by: hint, ...given } = answer ?? {};
    const by = hint ?? (stripeRequest ? "webhook" : "reconcile");
    const detail: RetryOutcome = {
      ...outcome,
      ...given,
      status: outcome.status,
      stripe_request_id: answer?.stripe_request_id ?? stripeRequest?.request_id ?? null,
    };
    return [
      await addSettlement(kv, op, entry as Deno.KvEntry<RetryRecord>, detail, {
        at: new Date(clock.now()).toISOString(),
        by,
        release: releasesAttempt(outcome),
      }),
    ];
  };
}
