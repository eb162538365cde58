/**
 * The retry world for tests: the refund world (whole app, real gateway, SDK
 * against a fresh emulator, webhooks held until delivered) plus a failed
 * payment to retry and the route helpers.
 *
 *   await withRetryWorld(async (w) => {
 *     const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
 *     const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
 *   });
 */
import type Stripe from "stripe";
import { runDueJobs } from "../../kv/jobs.ts";
import { jobHandlers } from "../../services/mod.ts";
import { type RefundWorld, type RefundWorldOptions, withRefundWorld } from "./refunds.ts";
import { authHeaders, jsonRequest, stepUpHeaders, type TestAdmin } from "./identity.ts";

export const RETRIES = "/api/admin/payments/retries";

export interface FailedPayment {
  pi: Stripe.PaymentIntent;
  txnId: string;
  customer: string;
}

export interface RetryWorld extends RefundWorld {
  /**
   * a payment of a new customer declined with `paymentMethod`, known to the app through its
   * webhooks; 2 s pass after it unless `sameSecond`
   */
  failedPayment(
    amount: number,
    paymentMethod: string,
    customer?: string,
    options?: { captureMethod?: "manual"; sameSecond?: boolean },
  ): Promise<FailedPayment>;
  /** a fresh enough step-up token's headers for `as` (before a parallel burst) */
  stepUp(as?: TestAdmin): Promise<Record<string, string>>;
  /** POST /retries as `as` (default the operator) with a step-up token */
  retry(
    body: Record<string, unknown>,
    options?: { as?: TestAdmin; idempotencyKey?: string },
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  get(path: string, as?: TestAdmin): Promise<{ status: number; body: Record<string, unknown> }>;
  /** every job due now, all kinds, as the cron would run them */
  runAllJobs(): Promise<void>;
  /** the PaymentIntent's charges at Stripe (one per confirm that reached the card) */
  charges(pi: string): Promise<Stripe.Charge[]>;
}

export function withRetryWorld(
  fn: (w: RetryWorld) => Promise<void>,
  options: RefundWorldOptions = {},
): Promise<void> {
  return withRefundWorld(async (base) => {
    const stepUps = new Map<string, { headers: Record<string, string>; at: number }>();
    const w: RetryWorld = {
      ...base,
      async failedPayment(amount, paymentMethod, existing, options = {}) {
        const customer = existing ??
          (await base.stripe.customers.create({ email: "buyer@example.com" })).id;
        let pi: Stripe.PaymentIntent | null = null;
        try {
          await base.stripe.paymentIntents.create({
            amount,
            currency: "usd",
            customer,
            payment_method: paymentMethod,
            confirm: true,
            off_session: true,
            ...(options.captureMethod ? { capture_method: options.captureMethod } : {}),
          });
        } catch (error) {
          pi = (error as { raw?: { payment_intent?: Stripe.PaymentIntent } }).raw?.payment_intent ??
            null;
        }
        if (!pi) throw new Error(`${paymentMethod} was expected to decline`);
        await base.deliver();
        // The retry comes later than the decline, as in life (a decline and a retry in
        // the same second are ordered by Stripe's read-back, not needed here).
        if (!options.sameSecond) base.clock.advance(2000);
        const txn = await base.t.services.transactions.get(pi.id);
        return { pi, txnId: txn.id, customer };
      },
      async stepUp(as = base.operator) {
        let cached = stepUps.get(as.id);
        // a step-up token lasts STEP_UP_TTL_S (300 s) on the manual clock
        if (!cached || base.clock.now() - cached.at > 200_000) {
          cached = { headers: await stepUpHeaders(base.t, as), at: base.clock.now() };
          stepUps.set(as.id, cached);
        }
        return cached.headers;
      },
      async retry(body, options = {}) {
        const as = options.as ?? base.operator;
        const headers = await w.stepUp(as);
        const h = options.idempotencyKey
          ? { ...headers, "idempotency-key": options.idempotencyKey }
          : headers;
        const res = await base.t.app.request(RETRIES, jsonRequest("POST", h, body));
        return { status: res.status, body: await res.json(), headers: res.headers };
      },
      async get(path, as = base.operator) {
        const res = await base.t.app.request(path, { headers: authHeaders(as) });
        return { status: res.status, body: await res.json() };
      },
      runAllJobs: async () => {
        await runDueJobs(base.t.kv, base.clock, jobHandlers(base.t.services));
      },
      async charges(pi) {
        return (await base.stripe.charges.list({ payment_intent: pi, limit: 100 })).data;
      },
    };
    await fn(w);
  }, options);
}
