/**
 * Sending a recorded attempt to Stripe and settling what it answers.
 *
 * The confirm carries the attempt's own idempotency key (`retry:<rty id>`) and
 * is sent ONCE: an unknown outcome (timeout, 5xx, dropped answer) leaves the
 * attempt `processing` for the webhook or reconciliation, which read the
 * PaymentIntent instead of confirming again. What Stripe provably did not act
 * on gives its count back (README "Retry policy"): a first confirm it asked to
 * try again (429, `lock_timeout`) closes the attempt and answers 503, and a
 * refusal of the request itself (not a card's decline) fails it uncounted. What Stripe answers (the
 * PaymentIntent, or the card error carrying it) is applied like a webhook
 * (services/ingest `applyToTransaction`), so the transaction, the ledger and
 * the attempt move in one commit and a racing `payment_intent.succeeded`
 * finds nothing left to credit. Whatever the applier could not settle (no
 * newer PaymentIntent state, or no PaymentIntent in the answer) is settled
 * here from the answer itself, still only from `processing`.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { IdFactory } from "../../core/ids.ts";
import {
  applyToTransaction,
  auditedCommitter,
  chargeSnap,
  type Observation,
  type PaymentSettlementHook,
  piSnap,
  placeRead,
} from "../ingest/mod.ts";
import { getRetry, type RetryRecord } from "../../kv/retries.ts";
import { readTransactionState } from "../../kv/transactions.ts";
import { addSettlement, type AnswerDetails, type RetryOutcome } from "./settlement.ts";
import { confirmAtStripe, type ConfirmAttempt, outcomeOfAnswer } from "./confirm_answer.ts";
import {
  type ApplyPaymentIntent,
  isUnexpectedState,
  movedOutcome,
  movedProblem,
  readPaymentIntent,
} from "./moved.ts";
import type { AppError } from "../../core/errors.ts";
import { bindParts } from "../../core/bind.ts";
import { isRetryWaiting, NOT_SENT_CODE } from "../../domain/retry.ts";
import { notSentOutcome, notSentProblem, refusedUnacted } from "./not_acted.ts";

/** Test seam: runs after Stripe answered, before anything is settled; throw to "crash" there. */
export interface RetryHooks {
  afterStripeCall?: (retryId: string) => void | Promise<void>;
}

export interface ConfirmServices {
  audit: AuditService;
  newId: IdFactory;
  answers: AnswerDetails;
  paymentSettlement: PaymentSettlementHook;
  hooks?: RetryHooks;
}

/**
 * Applies a PaymentIntent read from Stripe (answer or retrieve) to its
 * transaction. Stripe answered after everything the transaction has seen, so
 * the read is placed after it even within the same second (a decline and the
 * retry that follows it in one second would otherwise look the wrong way round),
 * at Stripe's time of the answer (`answeredAt`), not the service's clock. The
 * read remembers that time: a later event of that second still wins over it
 * (the applier asks Stripe), so a 3-D Secure failure right after the answer is
 * never taken for an old event.
 */
async function applyPaymentIntent(
  p: ConfirmParts,
  ctx: CallContext,
  txnId: string,
  pi: Stripe.PaymentIntent,
  stripeRequest: { request_id: string | null; idempotency_key: string | null } | null,
  answeredAt: number | null,
): Promise<void> {
  const { kv, clock, deps, svc, committer } = p;
  const seen = (await readTransactionState(kv, txnId)).sync.value?.pi;
  const placed = placeRead(answeredAt, Math.floor(clock.now() / 1000), seen);
  const at = placed.at;
  const observations: Observation[] = [{ kind: "pi", snap: piSnap(pi, at, placed.readAt) }];
  const charge = pi.latest_charge;
  if (charge && typeof charge === "object") {
    observations.push({ kind: "charge", snap: chargeSnap(charge, at) });
  }
  await applyToTransaction(deps, { ...svc, committer }, {
    refs: { pi: pi.id, charge: typeof charge === "string" ? charge : charge?.id ?? null },
    observations,
    eventId: null,
    ctx,
    stripeRequest,
  });
}

/**
 * Settles the attempt from the answer when the applier did not (only from
 * `processing`; `fromWaiting`: also one waiting on the customer, from what
 * reconciliation read at Stripe).
 */
async function settleDirect(
  p: ConfirmParts,
  ctx: CallContext,
  id: string,
  outcome: RetryOutcome,
  by: string,
  fromWaiting = false,
  release = false,
): Promise<void> {
  const { kv, clock, svc } = p;
  await svc.audit.commit(ctx, async (op) => {
    const entry = await getRetry(kv, id);
    const r = entry.value;
    const fillDetails = r?.status === "requires_action" && outcome.status === "requires_action" &&
      r.next_action === null && outcome.next_action;
    const open = r?.status === "processing" ||
      (fromWaiting && r !== null && isRetryWaiting(r.status) && outcome.status !== r.status);
    if (!r || (!open && !fillDetails)) return { value: null, audit: [] };
    const at = new Date(clock.now()).toISOString();
    const entryAudit = await addSettlement(kv, op, entry as Deno.KvEntry<RetryRecord>, outcome, {
      at,
      by,
      release,
    });
    return { value: null, audit: [entryAudit] };
  });
}

/**
 * Confirms a `processing` attempt and settles the answer; an unknown outcome
 * leaves it `processing`. Reconciliation sends the same confirm again (same
 * idempotency key, `by` "reconcile"): Stripe replays what it did, or acts now,
 * and a "try again" then proves nothing about the first send. A decline is an
 * outcome of the attempt, not an error of the request; a first confirm Stripe
 * asked to try again (`by` "answer") closes the attempt uncounted and throws
 * its 503.
 */
async function confirm(
  p: ConfirmParts,
  ctx: CallContext,
  r: RetryRecord,
  by = "answer",
): Promise<RetryRecord> {
  const { kv, log, svc } = p;
  const attempt = await confirmAtStripe(p.deps, r);
  if (attempt.kind === "try_again" && by === "answer") {
    const what = "confirm the payment";
    const outcome = notSentOutcome(what, attempt.error);
    const closed = await settleDirect(p, ctx, r.id, outcome, by, false, true).then(
      () => true,
      (error) => {
        // not closed: it stays `processing` (202) and reconciliation sends it again
        log.error("retry not closed after Stripe asked to try again", { retry_id: r.id, error });
        return false;
      },
    );
    const now = closed ? (await getRetry(kv, r.id)).value : null;
    // (settled meanwhile by other news: that is the answer)
    if (now?.failure_code === NOT_SENT_CODE) throw notSentProblem(r, what, attempt.error);
  }
  if (attempt.kind === "try_again") {
    log.warn("retry confirmed again, Stripe asks to try again; left to reconciliation", {
      retry_id: r.id,
      error: attempt.error,
    });
  }
  let moved: AppError | null = null;
  if (attempt.kind === "answered" || attempt.kind === "refused") {
    const outcome = outcomeOfAnswer(r, attempt);
    const release = attempt.kind === "refused" && refusedUnacted(attempt.error);
    try {
      await svc.hooks?.afterStripeCall?.(r.id);
      moved = attempt.kind === "refused" ? await settleMoved(p, ctx, r, attempt, by) : null;
      if (outcome && !moved) svc.answers.set(r.id, { ...outcome, by });
      const pi = moved ? null : attempt.pi;
      if (pi) {
        await applyPaymentIntent(p, ctx, r.transaction_id, pi, {
          request_id: attempt.requestId,
          idempotency_key: r.stripe_idempotency_key,
        }, attempt.answeredAt);
      }
      if (outcome && !moved) await settleDirect(p, ctx, r.id, outcome, by, false, release);
    } catch (error) {
      // Stripe acted: never answer an error for it (whatever failed here, a KV outage
      // or a bug); the attempt stays `processing` (202) and the webhook or
      // reconciliation settles it from the PaymentIntent.
      log.error("retry answered by Stripe but not settled yet; left to reconciliation", {
        retry_id: r.id,
        error,
      });
    } finally {
      svc.answers.delete(r.id);
    }
  }
  // the payment moved at Stripe: the 409 naming its status (README "Which payments")
  if (moved && by === "answer") throw moved;
  return (await getRetry(kv, r.id)).value ?? r;
}

/**
 * Stripe refused the confirm because the PaymentIntent is in another status
 * (paid with another card, canceled) while this service had not heard yet:
 * the PaymentIntent is read, the attempt closed uncounted FIRST (so the news
 * applied next is not taken for this attempt's own), then the transaction
 * follows Stripe. Returns the 409 to answer; null when it is something else
 * (another refusal, or the PaymentIntent unreadable or still waiting).
 */
async function settleMoved(
  p: ConfirmParts,
  ctx: CallContext,
  r: RetryRecord,
  attempt: Extract<ConfirmAttempt, { kind: "refused" }>,
  by: string,
): Promise<AppError | null> {
  if (!isUnexpectedState(attempt.error)) return null;
  const priority = by === "answer" ? "interactive" : "background";
  const pi = await readPaymentIntent(p.deps, r.stripe_payment_intent, priority).catch((error) => {
    p.log.warn("payment intent not read after a refused confirm", { retry_id: r.id, error });
    return null;
  });
  if (!pi || pi.status === "requires_payment_method") return null;
  await settleDirect(p, ctx, r.id, movedOutcome(pi, attempt.requestId), by, false, true);
  const apply = (...a: Parameters<ApplyPaymentIntent>) => applyPaymentIntent(p, ...a);
  return await movedProblem(p, apply, ctx, r, pi, attempt.error);
}

/** What confirming works with. */
interface ConfirmParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  log: Deps["log"];
  deps: Deps;
  svc: ConfirmServices;
  committer: ReturnType<typeof auditedCommitter>;
}

export function createRetryConfirmer(deps: Deps, svc: ConfirmServices) {
  const { kv, clock, log } = deps;
  const p: ConfirmParts = { kv, clock, log, deps, svc, committer: auditedCommitter(svc.audit) };

  return {
    confirm: bindParts(p, confirm),
    applyPaymentIntent: bindParts(p, applyPaymentIntent),
    settleDirect: bindParts(p, settleDirect),
  };
}

export type RetryConfirmer = ReturnType<typeof createRetryConfirmer>;
