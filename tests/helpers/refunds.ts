/**
 * The refund world for tests: the whole app with its real gateway and the
 * official SDK against a fresh emulator (on the app's manual clock), and the
 * emulator's signed webhooks held in a buffer until the test delivers them,
 * so a test decides whether a webhook or reconciliation comes first.
 *
 *   await withRefundWorld(async (w) => {
 *     const { txnId } = await w.pay(5000);
 *     const r = await w.t.services.refunds.create(w.ctx(w.operator), {...});
 *   });
 */
import { isUndecided, type RefundResult } from "../../services/refunds/mod.ts";
import Stripe from "stripe";
import type { Emulator, EmulatorOptions } from "../../emulator/mod.ts";
import { ManualClock } from "../../core/clock.ts";
import { AppError } from "../../core/errors.ts";
import type { CallContext } from "../../domain/actor.ts";
import { createStripeGateway, type StripeGateway } from "../../services/stripe/gateway.ts";
import { type RefundHooks, refundJobHandlers } from "../../services/refunds/service.ts";
import { listJobs, runDueJobs } from "../../kv/jobs.ts";
import { webhookJobHandlers } from "../../services/webhooks/service.ts";
import { createIsolateOf, createTestApp, type TestApp } from "./app.ts";
import { createAdmin, type TestAdmin } from "./identity.ts";
import { startTestEmulator, stripeFor } from "./emulator.ts";
import { TEST_WEBHOOK_SECRETS, WEBHOOK_ENV, WEBHOOK_PATH } from "./webhooks.ts";
import { waitingFor } from "./waiting.ts";

export interface HeldWebhook {
  body: string;
  signature: string;
  type: string;
}

export interface RefundWorld {
  t: TestApp;
  emu: Emulator;
  /** the SDK straight to the emulator: "the outside world" (Dashboard, customers) */
  stripe: Stripe;
  clock: ManualClock;
  /** test seams of the refund service (`afterStripeCall` to "crash" between the commits) */
  hooks: RefundHooks;
  operator: TestAdmin;
  operator2: TestAdmin;
  admin: TestAdmin;
  /** a succeeded payment by a new customer, known to the app through its webhooks */
  pay(
    amount: number,
    paymentMethod?: string,
  ): Promise<{ pi: Stripe.PaymentIntent; txnId: string; customer: string }>;
  /** a `CallContext` for an admin, as the routes would build it */
  ctx(admin: TestAdmin, idempotencyKey?: string): CallContext;
  /** webhooks the emulator sent that the app has not received yet */
  held(): Promise<HeldWebhook[]>;
  /** delivers the held webhooks (all, or those `pick` returns, in its order) and waits for processing */
  deliver(pick?: (held: HeldWebhook[]) => HeldWebhook[]): Promise<number>;
  /** forgets the held webhooks (Stripe's deliveries that never arrive) */
  dropHeld(): Promise<void>;
  /** runs the job table as cron would, at the clock's time */
  runJobs(): Promise<void>;
  /**
   * Another isolate on the world's KV (needs `file: true`): its own handle, services, app and
   * Stripe gateway (so its own token bucket), the same emulator; closed with the world.
   */
  isolate(): Promise<RefundIsolate>;
}

/** Another isolate of a refund world's deployment (`RefundWorld.isolate()`). */
export interface RefundIsolate {
  t: TestApp;
  hooks: RefundHooks;
  /** delivers the held webhooks (all, or those `pick` returns) to this isolate */
  deliver(pick?: (held: HeldWebhook[]) => HeldWebhook[]): Promise<number>;
  /** runs the job table as this isolate's cron would */
  runJobs(): Promise<void>;
}

export interface RefundWorldOptions {
  env?: Record<string, string>;
  emulator?: EmulatorOptions;
  /** gateway per-request timeout (ms) */
  timeoutMs?: number;
  /** wraps the app's gateway (a fault suite "kills the process" right after a Stripe call) */
  intercept?: (gateway: StripeGateway) => StripeGateway;
  /** Stripe's clock minus the service's (ms): the emulator runs this far ahead (or behind) */
  stripeClockSkewMs?: number;
  /** a temp-file KV, which `isolate()` opens again (`createTestApp`'s `file`) */
  file?: boolean;
}

export async function withRefundWorld(
  fn: (w: RefundWorld) => Promise<void>,
  options: RefundWorldOptions = {},
): Promise<void> {
  const clock = new ManualClock(Date.now());
  const skew = options.stripeClockSkewMs ?? 0;
  const emu = await startTestEmulator({
    now: () => clock.now() + skew,
    ...options.emulator,
  });
  const buffer: HeldWebhook[] = [];
  const receiver = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const body = await req.text();
    const type = (JSON.parse(body) as { type: string }).type;
    buffer.push({ body, signature: req.headers.get("stripe-signature") ?? "", type });
    return new Response("ok");
  });
  emu.setWebhook({
    url: `http://127.0.0.1:${receiver.addr.port}/held`,
    secret: TEST_WEBHOOK_SECRETS[0],
  });
  let gateway: StripeGateway | null = null;
  const hooks: RefundHooks = {};
  const t = await createTestApp({
    clock,
    file: options.file,
    services: { refundHooks: hooks },
    env: {
      ...WEBHOOK_ENV,
      STRIPE_API_URL: emu.url,
      STRIPE_SECRET_KEY: "sk_test_refunds",
      STRIPE_RATE_LIMIT_PER_S: "10000",
      ...options.env,
    },
    stripe: { call: (f, o) => gateway!.call(f, o) },
  });
  const gatewayOf = (app: TestApp) =>
    createStripeGateway({
      kv: app.kv,
      clock,
      config: app.deps.config,
      log: app.deps.log,
      metrics: app.services.metrics,
      timeoutMs: options.timeoutMs ?? 5_000,
      // whole milliseconds, as a real clock reads: a jittered wait (a fraction) would make
      // ids and audit times fractional
      sleep: (ms) => Promise.resolve(clock.advance(Math.ceil(ms))),
      fetch: emu.fetch,
    });
  const real = gatewayOf(t);
  gateway = options.intercept ? options.intercept(real) : real;
  const stripe = stripeFor(emu);

  const isolates: TestApp[] = [];
  const runJobsOf = async (t: TestApp) => {
    await runDueJobs(t.kv, clock, {
      ...webhookJobHandlers(t.services),
      ...refundJobHandlers(t.services),
    });
  };

  async function held(): Promise<HeldWebhook[]> {
    await waitingFor("the emulator's webhook deliveries", emu.deliveries());
    return [...buffer];
  }

  function deliver(pick?: (held: HeldWebhook[]) => HeldWebhook[]): Promise<number> {
    return deliverTo(t, pick);
  }

  async function deliverTo(
    t: TestApp,
    pick?: (held: HeldWebhook[]) => HeldWebhook[],
  ): Promise<number> {
    await waitingFor("the emulator's webhook deliveries", emu.deliveries());
    const all = buffer.splice(0);
    const chosen = pick ? pick(all) : all;
    for (const h of all) if (!chosen.includes(h)) buffer.push(h);
    for (const h of chosen) {
      const res = await t.app.fetch(
        new Request(`http://localhost${WEBHOOK_PATH}`, {
          method: "POST",
          headers: { "content-type": "application/json", "stripe-signature": h.signature },
          body: h.body,
        }),
      );
      const text = await res.text();
      if (res.status !== 200) throw new Error(`webhook ${h.type} refused: ${res.status} ${text}`);
    }
    await waitingFor("the service's webhook processing", t.services.webhooks.drain());
    return chosen.length;
  }

  const world: RefundWorld = {
    t,
    emu,
    stripe,
    clock,
    hooks,
    operator: await createAdmin(t, "operator"),
    operator2: await createAdmin(t, "operator"),
    admin: await createAdmin(t, "admin"),
    async pay(amount, paymentMethod = "pm_card_visa") {
      const customer = await stripe.customers.create({ email: "buyer@example.com" });
      const pi = await stripe.paymentIntents.create({
        amount,
        currency: "usd",
        customer: customer.id,
        payment_method: paymentMethod,
        confirm: true,
      });
      await deliver();
      const txn = await t.services.transactions.get(pi.id);
      return { pi, txnId: txn.id, customer: customer.id };
    },
    ctx: (admin, idempotencyKey) => ({
      actor: { type: "admin", id: admin.id, role: admin.role },
      request: { request_id: `req_${crypto.randomUUID()}`, ip: null, user_agent: null },
      second_factor: true,
      ...(idempotencyKey !== undefined ? { idempotency_key: idempotencyKey } : {}),
    }),
    held,
    deliver,
    dropHeld: async () => {
      await emu.deliveries();
      buffer.splice(0);
    },
    runJobs: () => runJobsOf(t),
    async isolate() {
      let itsGateway: StripeGateway | null = null;
      const itsHooks: RefundHooks = {};
      const other = await createIsolateOf(t, {
        stripe: { call: (f, o) => itsGateway!.call(f, o) },
        services: { refundHooks: itsHooks },
      });
      itsGateway = gatewayOf(other);
      isolates.push(other);
      return {
        t: other,
        hooks: itsHooks,
        deliver: (pick) => deliverTo(other, pick),
        runJobs: () => runJobsOf(other),
      };
    },
  };
  try {
    await fn(world);
  } finally {
    emu.setWebhook(null);
    await waitingFor("the emulator to close", emu.close());
    await waitingFor("the webhook receiver to shut down", receiver.shutdown());
    for (const other of isolates) await other.services.webhooks.drain();
    await waitingFor("the service's webhook processing", t.services.webhooks.drain());
    for (const other of isolates) await other.close();
    await t.close();
  }
}

/** Stripe's view of one payment: the refunds it made and what it counts as refunded. */
export async function stripeRefunds(stripe: Stripe, pi: Stripe.PaymentIntent) {
  const list = await stripe.refunds.list({ payment_intent: pi.id, limit: 100 });
  const charge = await stripe.charges.retrieve(pi.latest_charge as string);
  return { refunds: list.data, amount_refunded: charge.amount_refunded };
}

/** A card payment authorized at Stripe for a later capture (`capture_method: manual`). */
export async function authorizeAtStripe(stripe: Stripe, amount: number, email: string) {
  const customer = await stripe.customers.create({ email });
  const pi = await stripe.paymentIntents.create({
    amount,
    currency: "usd",
    customer: customer.id,
    payment_method: "pm_card_visa",
    capture_method: "manual",
    confirm: true,
  });
  return { pi, customer: customer.id };
}

/** The operator asks for a refund of `amount` on `txnId`, "requested_by_customer" with `note`. */
export function askRefund(w: RefundWorld, txnId: string, amount: number, note: string) {
  return w.t.services.refunds.create(w.ctx(w.operator), {
    transaction_id: txnId,
    amount,
    reason: "requested_by_customer",
    note,
  });
}

export { listJobs };

/** A well-formed hash no refund has: what is sent for a refund that has none to read. */
export const NO_SUCH_HASH = "0".repeat(64);

/**
 * The body an approver sends (README, "A first session"): the refund read as it stands now and
 * approved by its `approval.hash`, with `extra` (a note). A refund that cannot be read (an unknown
 * id) or that never awaited approval gets a well-formed hash of none, so the request reaches the
 * refund's own answer (404, 409).
 */
export async function approvalOf(
  t: { services: TestApp["services"] },
  id: string,
  extra: { note?: string } = {},
): Promise<{ note?: string; approval_hash: string }> {
  const hash = await t.services.refunds.get(id).then(
    (r) => r.approval.hash,
    (e) => {
      if (e instanceof AppError && e.code === "not_found") return null;
      throw e;
    },
  );
  return { ...extra, approval_hash: hash ?? NO_SUCH_HASH };
}

/** The status the refunds route answers a create with: 202 while undecided, else 201. */
export function statusOf(result: RefundResult): 201 | 202 {
  return isUndecided(result.refund.status) ? 202 : 201;
}
