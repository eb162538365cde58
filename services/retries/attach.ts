/**
 * Saving the retry's payment method on the payment's customer at Stripe
 * (README "Retrying failed payments"), only once the attempt is recorded: its
 * caps are counted and it holds the payment, so a refused retry (a second
 * click, a cap) saves nothing at Stripe. The attach carries the idempotency
 * key the record names (`retry-attach:<rty id>`), and what Stripe answers is
 * settled on the attempt with its audit entry in one commit: saved (the
 * attempt goes on to the confirm), or refused (the attempt ends `failed` with
 * Stripe's reason; nothing was charged). An attempt that ends before its
 * confirm does not count toward the retry limits (README "Retry policy").
 *
 * When Stripe's answer is lost the attempt stays `processing`, holding the
 * payment: the same request sent again with the same `Idempotency-Key`
 * resumes it and sends the same attach (Stripe answers it once), then the
 * confirm; otherwise reconciliation sends the same attach to learn what
 * Stripe did, audits it, and closes the attempt, never confirming a payment
 * the operator was told had failed (`not_confirmed`, nothing charged).
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditInput, AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { attemptStripe, type StripeAttempt, stripeRequestId } from "../stripe/mod.ts";
import { addUpdateRetry, getRetry, type RetryRecord } from "../../kv/retries.ts";
import { addSettlement, type RetryOutcome } from "./settlement.ts";
import { cardSummary } from "./payment_methods.ts";
import { bindParts } from "../../core/bind.ts";
import { notSentOutcome, notSentProblem } from "./not_acted.ts";

const ATTACH_WHAT = "save the payment method on the customer";

export const ATTACH_REASON = "saved on the payment's customer to retry the payment with it";

/** Seconds before the same request may be sent again with the same Idempotency-Key. */
const RESEND_AFTER_S = 2;

/** How an attempt whose request stopped before its confirm is closed by reconciliation. */
const NOT_CONFIRMED: RetryOutcome = {
  status: "failed",
  stripe_status: null,
  failure_code: "not_confirmed",
  failure_message: "the request that made this retry stopped before the payment was confirmed " +
    "at Stripe (Stripe's answer to saving the payment method was lost): nothing was charged; " +
    "the payment method is saved on the customer, retry the payment with it",
};

/**
 * The 503 for a lost attach answer: what happened (the card may be saved, the
 * attempt holds the payment, nothing charged) and what to do, which depends on
 * whether the request carried an Idempotency-Key.
 */
export function attachAnswerLost(
  r: RetryRecord,
  withKey: boolean,
  error: unknown,
  reconcileAfterS: number,
): AppError {
  const lost = `Stripe's answer to saving payment method ${r.payment_method} on customer ` +
    `${r.customer} was lost (it may be saved there already); retry ${r.id} is recorded and ` +
    "holds this payment, and nothing was charged. ";
  const fix = withKey
    ? "Send this request again with the same Idempotency-Key (header.idempotency-key): Stripe " +
      "answers the same attach, the card is saved once, and the retry goes on"
    : "This request had no Idempotency-Key (header.idempotency-key), so sending it again makes " +
      `a new retry, refused while ${r.id} holds the payment: reconciliation closes ${r.id} ` +
      `within minutes (GET /api/admin/payments/retries/${r.id}); then retry with the payment ` +
      `method saved on the customer (GET /api/admin/payments/customers/${r.customer}/` +
      "payment-methods)";
  const stripe = error instanceof AppError ? error.extra?.stripe : undefined;
  return new AppError("stripe_unavailable", lost + fix, {
    extra: { retry_id: r.id, payment_method: r.payment_method, ...(stripe ? { stripe } : {}) },
    cause: error,
    retryAfter: withKey ? RESEND_AFTER_S : reconcileAfterS,
  });
}

/** The attach's audit entry: what was saved (or refused), on whom, with which Stripe key. */
function attachAudit(
  r: RetryRecord,
  result: "ok" | "failed",
  d: { pm: Stripe.PaymentMethod | null; requestId: string | null; reason: string },
): AuditInput {
  return {
    action: "payment_method.attach",
    target: { type: "payment_method", id: d.pm?.id ?? r.payment_method },
    result,
    after: {
      customer: r.customer,
      requested: r.requested_payment_method,
      retry_id: r.id,
      card: d.pm ? cardSummary(d.pm) : r.card,
    },
    reason: d.reason,
    stripe: { request_id: d.requestId, idempotency_key: r.attach?.idempotency_key ?? null },
  };
}

/** Stripe refused to save it: the attempt's outcome, with Stripe's own codes. */
export function attachRefusal(error: AppError): RetryOutcome {
  const s = (error.extra?.stripe ?? {}) as Record<string, string | null | undefined>;
  return {
    status: "failed",
    stripe_status: null,
    failure_code: s.code ?? "stripe_refused",
    decline_code: s.decline_code ?? null,
    advice_code: s.advice_code ?? null,
    failure_message: "Stripe refused to save the payment method on the customer " +
      `(${s.message ?? error.message}); nothing was charged`,
    stripe_request_id: s.request_id ?? null,
  };
}

/**
 * Settles an answered attach on the attempt `id` (only while it is pending):
 * saved, or refused (the attempt fails). `close`: the attempt ends anyway
 * with that outcome, the card saved (reconciliation of an attempt whose
 * request stopped before its confirm).
 */
async function settleAttach(
  p: AttachParts,
  ctx: CallContext,
  id: string,
  attempt: Exclude<StripeAttempt<Stripe.PaymentMethod>, { kind: "unknown" }>,
  close?: RetryOutcome,
): Promise<void> {
  const { kv, clock, svc } = p;
  await svc.audit.commit(ctx, async (op) => {
    const entry = await getRetry(kv, id);
    const r = entry.value;
    if (!r || r.status !== "processing" || r.attach?.status !== "pending") {
      return { value: null, audit: [] };
    }
    const at = new Date(clock.now()).toISOString();
    const saved = attempt.kind === "answered";
    const pm = saved ? attempt.value : null;
    const next: RetryRecord = {
      ...r,
      attach: { ...r.attach, status: saved ? "done" : "failed" },
      card: pm ? cardSummary(pm) : r.card,
      updated_at: at,
    };
    const failed = attempt.kind === "try_again"
      ? notSentOutcome(ATTACH_WHAT, attempt.error)
      : attempt.kind === "refused"
      ? attachRefusal(attempt.error)
      : null;
    const audit = [attachAudit(next, saved ? "ok" : "failed", {
      pm,
      requestId: saved ? stripeRequestId(pm) : failed?.stripe_request_id ?? null,
      reason: saved ? ATTACH_REASON : failed?.failure_message ?? "",
    })];
    // closed by reconciliation: the attach it sent again decided it (its request id)
    const outcome = saved ? close && { ...close, stripe_request_id: stripeRequestId(pm) } : failed!;
    if (!outcome) {
      addUpdateRetry(op, entry as Deno.KvEntry<RetryRecord>, next);
      return { value: null, audit };
    }
    const moved = { ...entry, value: next } as Deno.KvEntry<RetryRecord>;
    const by = close ? "reconcile" : "answer";
    // the confirm was never sent: nothing reached the card, so it does not count
    audit.push(await addSettlement(kv, op, moved, outcome, { at, by, release: true }));
    return { value: null, audit };
  });
}

/** The attach of a recorded attempt, with the Stripe idempotency key it carries. */
function sendAttach(p: AttachParts, r: RetryRecord) {
  const key = r.attach?.idempotency_key ?? `retry-attach:${r.id}`;
  return attemptStripe(
    p.deps.stripe,
    (s) =>
      s.paymentMethods.attach(r.payment_method, { customer: r.customer }, { idempotencyKey: key }),
    { label: "payment_methods.attach" },
  );
}

/**
 * Sends the attach of a recorded attempt whose payment method is not saved on
 * the customer yet, and settles Stripe's answer. Returns the attempt as it
 * stands after (`processing` when saved), and `unknown`: Stripe's answer was
 * lost (or, after an earlier send whose answer was lost, it asked to try again
 * later), the attempt left as it was. `firstSend`: no attach of this attempt
 * was sent before, so a "try again" proves Stripe saved nothing: the attempt
 * ends `failed`, uncounted, and its 503 is thrown.
 */
async function attach(
  p: AttachParts,
  ctx: CallContext,
  r: RetryRecord,
  firstSend: boolean,
): Promise<{ record: RetryRecord; unknown: unknown | null }> {
  if (r.status !== "processing" || r.attach?.status !== "pending") {
    return { record: r, unknown: null };
  }
  const attempt = await sendAttach(p, r);
  if (attempt.kind === "try_again" && firstSend) {
    await settleAttach(p, ctx, r.id, attempt);
    throw notSentProblem(r, ATTACH_WHAT, attempt.error);
  }
  if (attempt.kind === "answered" || attempt.kind === "refused") {
    await settleAttach(p, ctx, r.id, attempt);
    return { record: (await getRetry(p.kv, r.id)).value ?? r, unknown: null };
  }
  return { record: r, unknown: attempt.error };
}

/**
 * Reconciliation of an attempt whose request stopped before its confirm, the
 * attach's outcome unknown: the same attach again (same key: Stripe answers
 * what it did, or acts now), audited, and the attempt closed.
 */
async function closeUnconfirmed(
  p: AttachParts,
  ctx: CallContext,
  r: RetryRecord,
): Promise<"settled" | "unknown"> {
  const attempt = await sendAttach(p, r);
  if (attempt.kind === "answered") await settleAttach(p, ctx, r.id, attempt, NOT_CONFIRMED);
  else if (attempt.kind === "refused") await settleAttach(p, ctx, r.id, attempt);
  else return "unknown";
  return "settled";
}

/** What attaching works with. */
interface AttachParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  deps: Deps;
  svc: { audit: AuditService };
}

export function createAttachments(deps: Deps, svc: { audit: AuditService }) {
  const p: AttachParts = { kv: deps.kv, clock: deps.clock, deps, svc };
  return {
    attach: bindParts(p, attach),
    closeUnconfirmed: bindParts(p, closeUnconfirmed),
  };
}

export type Attachments = ReturnType<typeof createAttachments>;
