/**
 * Money against Stripe in every delivery order (README "Transactions and money
 * edges"): a payment shape is played once at the emulator through the SDK, and
 * its events, as Stripe created them, are then delivered to fresh apps (signed,
 * through the intake) in a random order, some twice, some never until the
 * backfill has read Stripe's objects (reconciliation), some concurrently. Once
 * quiet, the transaction, its customer's ledger and balance, its refunds and
 * disputes must equal the emulator's objects to the cent.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type Stripe from "stripe";
import { ManualClock } from "../../core/clock.ts";
import type { Emulator } from "../../emulator/mod.ts";
import { type BackfillObject, createBackfillService } from "../../services/backfill.ts";
import { stripeAnsweredAt } from "../../services/stripe/mod.ts";
import { createStripeGateway, type StripeGateway } from "../../services/stripe/gateway.ts";
import { webhookJobHandlers } from "../../services/webhooks/service.ts";
import { runDueJobs } from "../../kv/jobs.ts";
import { createTestApp, type TestApp } from "./app.ts";
import { startTestEmulator, stripeFor } from "./emulator.ts";
import { signedRequest, WEBHOOK_ENV } from "./webhooks.ts";
import { assertPaymentMatchesStripe, type Payment } from "./stripe_truth.ts";

export type { Payment };

/** What a shape's builder gets: the SDK, the emulator's controls, and Stripe's clock. */
export interface ShapeCtx {
  stripe: Stripe;
  emu: Emulator;
  /** Stripe's clock moves on between two steps (by the world's `spread` seconds) */
  tick(): void;
  /** Stripe's clock moves on by `seconds`, and Stripe does what time makes it do (a lapse) */
  wait(seconds: number): void;
  /** waits for what the emulator does by itself (a test card's dispute or warning) */
  settle(): Promise<void>;
  /** reconciliation reads Stripe now, mid-shape: its objects as they are at this moment */
  read(): Promise<void>;
}

/** What reconciliation read mid-shape: the objects, Stripe's time, and how many events preceded. */
export interface MidRead {
  objects: BackfillObject[];
  answeredAt: number | null;
  /** events[0..after) were created before the read */
  after: number;
}

export type ShapeBuilder = (s: ShapeCtx) => Promise<Payment>;

export interface RecordedEvent {
  id: string;
  type: string;
  body: string;
}

export interface ShapeWorld {
  emu: Emulator;
  stripe: Stripe;
  /** Stripe's clock (the emulator's `now`) */
  clock: ManualClock;
  payment: Payment;
  /** every event the shape made, in the order Stripe created them */
  events: RecordedEvent[];
  /** ms: when the shape started at Stripe (the backfill's `since`) */
  since: number;
  /** reads the shape made mid-way (`ShapeCtx.read`) */
  reads: MidRead[];
}

/** Plays `build` at a fresh emulator and runs `fn` on the result; closes the emulator. */
export async function withShape(
  build: ShapeBuilder,
  fn: (w: ShapeWorld) => Promise<void>,
  options: { spread?: number } = {},
): Promise<void> {
  const clock = new ManualClock(Date.UTC(2026, 10, 2, 12, 0, 0));
  const since = clock.now();
  // pending refunds wait for the shape to settle them (emulator `settleRefund`)
  const emu = await startTestEmulator({ now: () => clock.now(), refundFailureDelayMs: null });
  try {
    const stripe = stripeFor(emu);
    const spread = options.spread ?? 1;
    const reads: MidRead[] = [];
    const payment = await build({
      stripe,
      emu,
      tick: () => clock.advance(spread * 1000),
      wait: (seconds) => {
        clock.advance(seconds * 1000);
        emu.advanceClock(0);
      },
      settle: () => emu.deliveries(),
      read: async () => void reads.push(await readMidway(stripe, emu)),
    });
    await emu.deliveries();
    const listed: Stripe.Event[] = [];
    for await (const e of stripe.events.list({ limit: 100 })) listed.push(e);
    const events = listed.reverse().map((e) => ({
      id: e.id,
      type: e.type,
      body: JSON.stringify(e),
    }));
    await fn({ emu, stripe, clock, payment, events, since, reads });
  } finally {
    await emu.close();
  }
}

async function readMidway(stripe: Stripe, emu: Emulator): Promise<MidRead> {
  await emu.deliveries();
  const after = (await stripe.events.list({ limit: 100 })).data.length;
  const pis = await stripe.paymentIntents.list({ limit: 100 });
  const objects: BackfillObject[] = [
    ...pis.data,
    ...(await stripe.charges.list({ limit: 100 })).data,
    ...(await stripe.refunds.list({ limit: 100 })).data,
    ...(await stripe.disputes.list({ limit: 100 })).data,
    ...(await stripe.radar.earlyFraudWarnings.list({ limit: 100 })).data,
    ...(await stripe.reviews.list({ limit: 100 })).data,
  ];
  return { objects, answeredAt: stripeAnsweredAt(pis), after };
}

/** A fresh app whose gateway talks to the shape's emulator, its clock `skewS` past Stripe's. */
export async function appFor(w: ShapeWorld, skewS: number): Promise<TestApp> {
  const clock = new ManualClock(w.clock.now() + skewS * 1000);
  let gateway: StripeGateway | null = null;
  const t = await createTestApp({
    clock,
    env: { ...WEBHOOK_ENV, STRIPE_API_URL: w.emu.url, STRIPE_RATE_LIMIT_PER_S: "10000" },
    stripe: { call: (f, o) => gateway!.call(f, o) },
  });
  gateway = createStripeGateway({
    kv: t.kv,
    clock,
    config: t.deps.config,
    log: t.deps.log,
    sleep: (ms) => Promise.resolve(clock.advance(Math.ceil(ms))),
    fetch: w.emu.fetch,
  });
  return t;
}

/** How one run delivers the shape's events. */
export interface DeliveryPlan {
  /** indexes into the events, in delivery order */
  order: number[];
  /** events Stripe never delivers before reconciliation (backfill) reads its objects */
  dropped: number[];
  /** of the dropped ones, those that still arrive, after reconciliation */
  late: number[];
  /** events delivered a second time, at the end, in reverse */
  again: number[];
  /** deliveries in flight at once */
  concurrency: number;
  /** reconciliation also runs after this many deliveries */
  reconcileAt: number;
  /** the service's clock minus Stripe's, seconds (either may run ahead) */
  skewS: number;
  /** the shape's mid-way reads are applied, each once all events before it were delivered */
  midReads?: boolean;
}

/**
 * Plans over `n` events; any event may be dropped, since reconciliation reads back
 * everything they are about (payments, charges, refunds, disputes, customers,
 * Radar's warnings and reviews).
 */
export function deliveryPlans(events: RecordedEvent[]): fc.Arbitrary<DeliveryPlan> {
  const all = events.map((_, i) => i);
  return fc.record({
    order: fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
    dropped: fc.subarray(all, { maxLength: Math.ceil(all.length / 3) }),
    late: fc.subarray(all),
    again: fc.subarray(all, { maxLength: Math.ceil(all.length / 2) }),
    concurrency: fc.integer({ min: 1, max: 3 }),
    reconcileAt: fc.nat({ max: all.length }),
    skewS: fc.constantFrom(60, 0, -600),
    midReads: fc.boolean(),
  }).map((p) => ({ ...p, late: p.late.filter((i) => p.dropped.includes(i)) }));
}

/** Stripe's order, every event once, nothing dropped. */
export function inOrderPlan(events: RecordedEvent[]): DeliveryPlan {
  const order = events.map((_, i) => i);
  return {
    order,
    dropped: [],
    late: [],
    again: [],
    concurrency: 1,
    reconcileAt: order.length,
    skewS: 60,
  };
}

export async function deliver(t: TestApp, events: RecordedEvent[], concurrency: number) {
  for (let i = 0; i < events.length; i += concurrency) {
    await Promise.all(
      events.slice(i, i + concurrency).map(async (e) => {
        const res = await t.app.fetch(await signedRequest(e.body, { clock: t.clock }));
        const text = await res.text();
        assert.equal(res.status, 200, `${e.type} ${e.id} refused: ${text}`);
      }),
    );
  }
  await t.services.webhooks.drain();
}

/** Reconciliation: the backfill reads Stripe's objects since the shape began. */
export async function reconcile(t: TestApp, w: ShapeWorld) {
  const backfill = createBackfillService(t.deps, { applier: t.services.stripeEvents });
  await backfill.run({ since: w.since });
}

/** The webhook job table until nothing is due: failed events are retried. */
export async function quiesce(t: TestApp) {
  for (let i = 0; i < 4; i++) {
    t.clock.advance(61_000);
    await runDueJobs(t.kv, t.clock, webhookJobHandlers(t.services));
    await t.services.webhooks.drain();
  }
  for (const status of ["failed", "dead", "received"] as const) {
    const page = await t.services.webhooks.list({ status, limit: 10 });
    const left = page.data.map((e) => `${e.type} ${e.id}: ${e.last_error ?? e.detail}`);
    assert.deepEqual(left, [], `no event left ${status}`);
  }
}

/**
 * The shape's mid-way reads, each applied as the backfill would, once the
 * events created before it that the plan delivers have come (an event created
 * after a read never arrives before it); those events are taken off `order`.
 */
async function readsFirst(t: TestApp, w: ShapeWorld, order: number[], concurrency: number) {
  for (const read of w.reads) {
    const before = order.filter((i) => i < read.after);
    await deliver(t, before.map((i) => w.events[i]), concurrency);
    order.splice(0, order.length, ...order.filter((i) => i >= read.after));
    for (const o of read.objects) {
      await t.services.stripeEvents.applyObject(o, { answeredAt: read.answeredAt });
    }
  }
}

/**
 * Delivers the shape's events to a fresh app as `plan` says, reconciles, checks
 * the money against Stripe and returns the transaction (what must not depend on
 * the order).
 */
export async function runPlan(w: ShapeWorld, plan: DeliveryPlan) {
  const t = await appFor(w, plan.skewS);
  try {
    const pick = (idx: number[]) => idx.map((i) => w.events[i]);
    const first = plan.order.filter((i) => !plan.dropped.includes(i));
    if (plan.midReads) await readsFirst(t, w, first, plan.concurrency);
    await deliver(t, pick(first.slice(0, plan.reconcileAt)), plan.concurrency);
    if (plan.reconcileAt < first.length) await reconcile(t, w);
    await deliver(t, pick(first.slice(plan.reconcileAt)), plan.concurrency);
    if (plan.dropped.length || plan.reconcileAt < first.length) await reconcile(t, w);
    await deliver(t, pick(plan.late), plan.concurrency);
    await deliver(t, pick([...plan.again].reverse()), plan.concurrency);
    await quiesce(t);
    return await assertPaymentMatchesStripe(w.stripe, t, w.payment);
  } finally {
    await t.close();
  }
}

/** Runs per shape: `MONEY_ORDER_RUNS` (default `runs`); `MONEY_ORDER_SEED` replays one seed. */
export function orderRuns(runs: number): { numRuns: number; seed?: number } {
  const seed = Deno.env.get("MONEY_ORDER_SEED");
  const numRuns = Number(Deno.env.get("MONEY_ORDER_RUNS") ?? runs);
  return seed ? { numRuns, seed: Number(seed) } : { numRuns };
}

/**
 * The shape's events in Stripe's order end in Stripe's state, and so does every
 * random plan, in the same transaction.
 */
export async function checkEveryOrder(build: ShapeBuilder, runs = 12, spread = 1) {
  await withShape(build, async (w) => {
    if (Deno.env.get("MONEY_ORDER_TRACE")) console.log(w.events.map((e) => e.type).join(" "));
    const expected = await runPlan(w, inOrderPlan(w.events));
    await fc.assert(
      fc.asyncProperty(deliveryPlans(w.events), async (plan) => {
        const actual = await runPlan(w, plan);
        assert.deepEqual(actual, expected, "the same transaction in every order");
      }),
      orderRuns(runs),
    );
  }, { spread: Number(Deno.env.get("MONEY_ORDER_SPREAD") ?? spread) });
}
