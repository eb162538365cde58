/**
 * Retrying failed payments, exactly once (README "Retrying failed payments").
 *
 *   create -> the payment-wide policy (no Stripe call when it refuses)
 *          -> the payment method read (whose it is), the card's rules
 *          -> ONE commit: the attempt `processing`, caps counted, job, audit
 *          -> the payment method attached to the customer, keyed `retry-attach:<rty id>`
 *          -> Stripe confirm, keyed `retry:<rty id>`, sent once
 *          -> settled by the answer, the webhook or reconciliation, whichever first
 *
 * A client `Idempotency-Key` (kv/idempotency.ts) wraps create as on refunds.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { AuditService } from "../audit/mod.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import {
  type IdempotencyScope,
  idempotencyScope,
  requestFingerprint,
  runIdempotent,
} from "../../kv/idempotency.ts";
import type { Job, JobHandler } from "../../kv/jobs.ts";
import { getRetry, listRetries, type RetryFilters, type RetryRecord } from "../../kv/retries.ts";
import { type RetryView, retryView } from "./views.ts";

export { authorizationView, retryView } from "./views.ts";
export type { AuthorizationView, RetryView } from "./views.ts";
import { createRetryRequests } from "./request.ts";
import type { CreateRetryInput } from "./attempt_record.ts";
import { attemptInProgress, RETRY_RECONCILE_JOB, RETRY_SETTLED_WITHIN_MS } from "./in_flight.ts";
import { createRetryConfirmer, type RetryHooks } from "./confirm.ts";
import { NOT_SENT_CODE } from "../../domain/retry.ts";
import { createRetryReconciler } from "./reconcile.ts";
import { cardSummary, createPaymentMethods } from "./payment_methods.ts";
import { attachAnswerLost, type Attachments, createAttachments } from "./attach.ts";
import { isRetryRefusal } from "./retryable.ts";
import { assertWaitingAtStripe } from "./moved.ts";
import type { AnswerDetails } from "./settlement.ts";
import type { PaymentSettlementHook } from "../ingest/mod.ts";
import { type OpenFraudAlerts, openFraudAlertsFromKv } from "./fraud_alerts.ts";
import { AUTHORIZATION_RECONCILE_JOB, createAuthorizations } from "./authorizations.ts";
import { createCaptureCancel } from "./capture_cancel.ts";
import { sweepExpiringAuthorizations } from "./authorization_expiry.ts";
import { bindParts } from "../../core/bind.ts";

export interface RetryResult {
  /** `processing`: the outcome is not known yet (the route answers 202, else 201) */
  retry: RetryView;
  replayed: boolean;
}

export interface RetryServices {
  audit: AuditService;
  newId: IdFactory;
  cursors: CursorSealer;
  /** shared with the payment settlement hook the Stripe event applier holds */
  answers: AnswerDetails;
  paymentSettlement: PaymentSettlementHook;
  fraudAlerts?: OpenFraudAlerts;
  hooks?: RetryHooks;
}

/**
 * The answer for a record created under the client's Idempotency-Key whose
 * first answer was "try again" (or whose process died): an attempt whose
 * attach answer was lost goes on from there, with the same attach, and this
 * request's confirm is what charges (`acted`: no replay); one closed because
 * Stripe asked to try again before acting is none (null: the request runs
 * afresh under the key). Any other is read back, nothing done now.
 */
async function resume(p: RetryParts, ctx: CallContext, id: string, resend: Resend) {
  const { kv } = p;
  const r = (await getRetry(kv, id)).value;
  if (!r) throw notFound("retry", id);
  if (r.status === "failed" && r.failure_code === NOT_SENT_CODE) {
    resend.saved = savedByAttempt(r);
    return null;
  }
  // its attach was sent before (the answer lost): a "try again" now proves nothing
  if (r.status === "processing" && r.attach?.status === "pending") {
    return { body: retryView(await proceed(p, ctx, r, false)), acted: true };
  }
  return { body: retryView(r) };
}

/** What a request resent under its Idempotency-Key takes over from the attempt it follows. */
interface Resend {
  /** the payment method that attempt saved on the customer for a test id (README: saved once) */
  saved: string | null;
}

/**
 * The payment method `r` saved on the customer in place of a test id (which
 * Stripe resolves to a new payment method at each use), or null.
 */
function savedByAttempt(r: RetryRecord): string | null {
  const stoodIn = r.payment_method !== r.requested_payment_method;
  return stoodIn && (!r.attach || r.attach.status === "done") ? r.payment_method : null;
}

/**
 * A recorded attempt to Stripe: its payment method saved on the customer if
 * needed, then the confirm (`firstSend`: nothing of it was sent before).
 */
async function proceed(p: RetryParts, ctx: CallContext, record: RetryRecord, firstSend: boolean) {
  const { attachments, confirmer } = p;
  const attached = await attachments.attach(ctx, record, firstSend);
  if (attached.unknown !== null) {
    throw attachAnswerLost(
      attached.record,
      ctx.idempotency_key !== undefined,
      attached.unknown,
      RETRY_SETTLED_WITHIN_MS / 1000,
    );
  }
  const r = attached.record;
  return r.status === "processing" ? await confirmer.confirm(ctx, r) : r;
}

/** A refusal by the retry's rules or checks, audited as denied (README "Retrying failed payments"). */
async function auditRefusal(p: RetryParts, ctx: CallContext, input: CreateRetryInput, e: AppError) {
  const inFlight = e.extra?.retry_id;
  await p.svc.audit.record(ctx, {
    action: "retry.create",
    target: { type: "transaction", id: input.transaction_id },
    result: "denied",
    reason: e.message,
    after: {
      reason: e.extra?.reason ?? (inFlight ? "in_flight" : "not_retryable"),
      ...(inFlight ? { retry_id: inFlight } : {}),
      payment_method: input.payment_method,
    },
  });
}

async function attempt(
  p: RetryParts,
  ctx: CallContext,
  input: CreateRetryInput,
  binding: Parameters<RetryParts["requests"]["record"]>[4],
  resend: Resend,
) {
  const { deps, svc, requests, paymentMethods, confirmer } = p;
  try {
    const id = svc.newId("rty");
    const ok = await requests.preflight(ctx, input);
    // Read only: the card is judged, then the attempt committed (the lock, the caps), and
    // only then is anything sent to Stripe, the attach included.
    const found = await paymentMethods.inspect(
      ctx,
      input.payment_method,
      ok.customer,
      input.transaction_id,
      resend.saved,
    );
    const card = cardSummary(found.pm);
    const enteredAt = found.enteredAt;
    await requests.preflight(ctx, input, { fingerprint: card.fingerprint, entered_at: enteredAt });
    // a card is saved only for a payment still waiting for one at Stripe (README "Which payments")
    if (!found.saved) {
      await assertWaitingAtStripe(deps, confirmer.applyPaymentIntent, ctx, {
        id: input.transaction_id,
        txnId: ok.txn.id,
        pi: ok.pi,
      });
    }
    const pm = { id: found.pm.id, card, attach: !found.saved, entered_at: enteredAt };
    const record = await requests.record(ctx, id, input, pm, binding);
    return { body: retryView(await proceed(p, ctx, record, true)) };
  } catch (error) {
    if (isRetryRefusal(error)) await auditRefusal(p, ctx, input, error);
    throw error;
  }
}

/** POST /retries: 201 with the attempt whatever Stripe answered; 202 while its outcome is unknown. */
async function create(
  p: RetryParts,
  ctx: CallContext,
  input: CreateRetryInput,
): Promise<RetryResult> {
  const { kv, clock } = p;
  const fingerprint = await requestFingerprint({ route: "create", ...input });
  const scope: IdempotencyScope | null = idempotencyScope(ctx, "POST /retries");
  const resend: Resend = { saved: null };
  const r = await runIdempotent(kv, clock, scope, fingerprint, {
    run: (binding) => attempt(p, ctx, input, binding, resend),
    resume: (id) => resume(p, ctx, id, resend),
    inProgress: (stored) => attemptInProgress(kv, stored),
  });
  return { retry: r.body as RetryView, replayed: r.replayed };
}

async function get(p: RetryParts, id: string): Promise<RetryView> {
  const { kv } = p;
  const r = (await getRetry(kv, id)).value;
  if (!r) throw notFound("retry", id);
  return retryView(r);
}

async function list(
  p: RetryParts,
  q: RetryFilters & { limit: number; cursor?: string },
): Promise<Page<RetryView>> {
  const { kv, svc } = p;
  const { limit, cursor, ...filters } = q;
  const page = await listRetries(kv, svc.cursors, filters, { limit, cursor });
  return { data: page.data.map(retryView), next_cursor: page.next_cursor };
}

function jobHandlers(p: RetryParts): Record<string, JobHandler> {
  const { reconciler, authorizations } = p;
  return {
    [AUTHORIZATION_RECONCILE_JOB]: async (job: Job) => {
      const { action_id } = job.payload as { action_id: string };
      if (await authorizations.reconcileOne(action_id) === "unknown") {
        throw new Error(`the outcome of ${action_id} is still unknown; trying again later`);
      }
    },
    [RETRY_RECONCILE_JOB]: async (job: Job) => {
      const { retry_id } = job.payload as { retry_id: string };
      const outcome = await reconciler.reconcileOne(retry_id);
      if (outcome === "unknown") {
        throw new Error(`the outcome of retry ${retry_id} is still unknown; trying again later`);
      }
    },
  };
}

/** What the retry service's operations work with. */
interface RetryParts extends Pick<Deps, "kv" | "clock"> {
  deps: Deps;
  svc: RetryServices;
  requests: ReturnType<typeof createRetryRequests>;
  confirmer: ReturnType<typeof createRetryConfirmer>;
  reconciler: ReturnType<typeof createRetryReconciler>;
  paymentMethods: ReturnType<typeof createPaymentMethods>;
  attachments: Attachments;
  authorizations: ReturnType<typeof createAuthorizations>;
}

export function createRetryService(deps: Deps, svc: RetryServices) {
  const { kv, clock } = deps;
  const fraudAlerts = svc.fraudAlerts ?? openFraudAlertsFromKv(kv);
  const hooks: RetryHooks = svc.hooks ?? {};
  const requests = createRetryRequests(deps, { ...svc, fraudAlerts });
  const confirmer = createRetryConfirmer(deps, { ...svc, hooks });
  const paymentMethods = createPaymentMethods(deps, svc);
  const attachments = createAttachments(deps, svc);
  const reconciler = createRetryReconciler(deps, { confirmer, attachments }, svc.answers);
  const authorizations = createAuthorizations(deps, { ...svc, confirmer });
  const p: RetryParts = {
    kv,
    clock,
    deps,
    svc,
    requests,
    confirmer,
    reconciler,
    paymentMethods,
    attachments,
    authorizations,
  };

  return {
    create: bindParts(p, create),
    get: bindParts(p, get),
    list: bindParts(p, list),
    paymentMethods: (customer: string, page: { limit: number; cursor?: string }) =>
      paymentMethods.listForCustomer(customer, page),
    ...createCaptureCancel(deps, authorizations),
    /** the cron's safety net: retry attempts and authorization actions with unknown outcomes */
    reconcile: async (options?: { limit?: number }) => ({
      ...await reconciler.sweep(options),
      authorizations: await authorizations.reconcile(options?.limit),
    }),
    /** the cron: an ops alert for each authorization within 24 h of lapsing */
    sweepExpiringAuthorizations: () => sweepExpiringAuthorizations(deps, svc),
    reconcileOne: reconciler.reconcileOne,
    jobHandlers: () => jobHandlers(p),
    /** test seams (`afterStripeCall`: between Stripe's answer and its settlement) */
    hooks,
  };
}

export type RetryService = ReturnType<typeof createRetryService>;
