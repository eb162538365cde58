import assert from "node:assert/strict";
import { confirmedPayment } from "./helpers/emulator.ts";
import type Stripe from "stripe";
import { kvSnapshot, withEmulatorApp } from "./helpers/webhooks.ts";
import {
  type BackfillObject,
  type BackfillProgress,
  createBackfillService,
  parseSince,
  withLockRetry,
} from "../services/backfill.ts";
import { AppError } from "../core/errors.ts";

const DAY = 86_400_000;

/** An account with one of everything the backfill pages through, made via the SDK. */
async function seedAccount(stripe: Stripe) {
  const customers = [];
  for (const name of ["Ada", "Grace", "Linus"]) {
    customers.push(
      await stripe.customers.create({ name, email: `${name.toLowerCase()}@example.com` }),
    );
  }
  const paid = await confirmedPayment(stripe, { amount: 5000, customer: customers[0].id });
  await stripe.refunds.create({ payment_intent: paid.id, amount: 1500 });
  await confirmedPayment(stripe, {
    amount: 1200,
    customer: customers[1].id,
    payment_method: "pm_card_chargeDeclined",
  }).catch((e) => assert.equal(e.type, "StripeCardError"));
  await confirmedPayment(stripe, {
    amount: 9900,
    customer: customers[2].id,
    payment_method: "pm_card_createDispute",
  });
  // An older integration: a Charge with no PaymentIntent.
  await stripe.charges.create({ amount: 700, currency: "usd", source: "tok_visa" });
  // Radar: an issuer's early fraud warning, and a review of an elevated-risk payment.
  await confirmedPayment(stripe, {
    amount: 3100,
    customer: customers[0].id,
    payment_method: "pm_card_createEarlyFraudWarning",
  });
  await confirmedPayment(stripe, {
    amount: 4200,
    customer: customers[1].id,
    payment_method: "pm_card_riskLevelElevated",
  });
}

Deno.test("backfill pages through each kind since the date, in order, and reports progress", async () => {
  let emuNow = Date.now() - 40 * DAY;
  await withEmulatorApp(async ({ t, stripe, emu }) => {
    await stripe.customers.create({ email: "old@example.com" }); // before the window
    emuNow = Date.now() - DAY;
    await seedAccount(stripe);
    await emu.deliveries(); // the dispute is opened a moment after its charge

    const seen: BackfillObject[] = [];
    const progress: BackfillProgress[] = [];
    const backfill = createBackfillService(t.deps, {
      applier: { applyObject: (o) => Promise.resolve(void seen.push(o)) },
    });
    const run = await backfill.run({
      since: Date.now() - 30 * DAY,
      pageSize: 2, // several pages per kind
      onProgress: (p) => progress.push(p),
    });

    assert.deepEqual(run.counts, {
      customers: 3,
      payment_intents: 5,
      charges: 6,
      refunds: 1,
      disputes: 1,
      early_fraud_warnings: 1,
      reviews: 1,
    });
    const kinds = seen.map((o) => o.object);
    assert.deepEqual(kinds, [
      ...Array(3).fill("customer"),
      ...Array(5).fill("payment_intent"),
      ...Array(6).fill("charge"),
      "refund",
      "dispute",
      "radar.early_fraud_warning",
      "review",
    ]);
    assert.equal(new Set(seen.map((o) => o.id)).size, seen.length, "each object once");
    assert.ok(!seen.some((o) => o.object === "customer" && o.email === "old@example.com"));
    const legacy = seen.find((o) => o.object === "charge" && o.payment_intent === null);
    assert.ok(legacy, "the charge without a PaymentIntent is included");

    const done = progress.filter((p) => p.done);
    assert.deepEqual(done.map((p) => [p.phase, p.kind, p.applied]), [
      [1, "customers", 3],
      [2, "payment_intents", 5],
      [3, "charges", 6],
      [4, "refunds", 1],
      [5, "disputes", 1],
      [6, "early_fraud_warnings", 1],
      [7, "reviews", 1],
    ]);
    assert.deepEqual((await backfill.lastRun())?.counts, run.counts);
  }, { deliver: false, emulator: { now: () => emuNow } });
});

/** KV as the service knows the account: without the Stripe budget and the run record. */
function accountState(kv: Deno.Kv) {
  return kvSnapshot(kv, (key) => key[0] === "stripe_bucket" || key[0] === "backfill_runs");
}

Deno.test("backfill applies Stripe's objects like webhooks, and running it twice changes nothing", async () => {
  await withEmulatorApp(async ({ t, stripe, emu }) => {
    await seedAccount(stripe);
    await emu.deliveries();
    const backfill = createBackfillService(t.deps, { applier: t.services.stripeEvents });
    const since = t.clock.now() - 30 * DAY;

    const first = await backfill.run({ since });
    const once = await accountState(t.kv);
    t.clock.advance(60_000);
    const second = await backfill.run({ since });
    const twice = await accountState(t.kv);

    assert.deepEqual(second.counts, first.counts);
    assert.deepEqual(twice, once);
    // no webhook was delivered: the first run recovered the account
    assert.ok(first.changed.payment_intents > 0, "the first run recovered the payments");
    assert.ok(first.changed.charges > 0);
    assert.deepEqual(
      Object.values(second.changed),
      Object.values(second.changed).map(() => 0),
      "a second run reads as much and changes nothing",
    );

    const txns = (await t.services.transactions.list({ limit: 100 })).data;
    assert.equal(txns.length, 6, "five PaymentIntents and one Charge without one");
    const byAmount = new Map(txns.map((x) => [x.amount, x]));
    assert.equal(byAmount.get(5000)?.status, "succeeded");
    assert.equal(byAmount.get(5000)?.amount_refunded, 1500);
    assert.equal(byAmount.get(1200)?.status, "failed");
    assert.equal(byAmount.get(9900)?.amount_disputed, 9900);
    assert.equal(byAmount.get(700)?.stripe_payment_intent, null);
    const warned = byAmount.get(3100)?.risk_signals;
    assert.deepEqual(warned?.early_fraud_warnings.map((w) => w.actionable), [true]);
    const reviewed = byAmount.get(4200)?.risk_signals;
    assert.deepEqual(reviewed?.reviews.map((r) => [r.open, r.reason]), [[true, "rule"]]);
  }, { deliver: false });
});

Deno.test("backfill after the webhooks already delivered everything changes nothing", async () => {
  await withEmulatorApp(async ({ t, stripe, settle }) => {
    await seedAccount(stripe);
    await settle();
    const before = await accountState(t.kv);
    const backfill = createBackfillService(t.deps, { applier: t.services.stripeEvents });
    const run = await backfill.run({ since: t.clock.now() - DAY });
    assert.equal(run.counts.payment_intents, 5);
    assert.equal(run.counts.early_fraud_warnings, 1);
    assert.equal(run.counts.reviews, 1);
    assert.deepEqual(await accountState(t.kv), before);
    assert.ok(Object.values(run.changed).every((n) => n === 0), JSON.stringify(run.changed));
  });
});

Deno.test("parseSince() takes durations and dates, and refuses anything else with a clear message", () => {
  const now = Date.UTC(2026, 10, 26, 12, 0, 0);
  assert.equal(parseSince("30d", now), now - 30 * DAY);
  assert.equal(parseSince("12h", now), now - 12 * 3_600_000);
  assert.equal(parseSince("90m", now), now - 90 * 60_000);
  assert.equal(parseSince("2026-11-01", now), Date.UTC(2026, 10, 1));
  assert.equal(parseSince("2026-11-01T08:30", now), Date.UTC(2026, 10, 1, 8, 30));
  assert.equal(parseSince("2026-11-01T08:30:00+01:00", now), Date.UTC(2026, 10, 1, 7, 30));
  for (const bad of ["", "30", "thirty days", "30w", "2026-13-45", "2027-01-01"]) {
    assert.throws(
      () => parseSince(bad, now),
      (e: unknown) =>
        e instanceof AppError && e.code === "validation_failed" && /--since/.test(e.message),
    );
  }
});

Deno.test("withLockRetry() waits out a locked KV file, then gives up with advice", async () => {
  let calls = 0;
  const locked = () => new Error("database is locked");
  const value = await withLockRetry(() => {
    calls++;
    return calls < 3 ? Promise.reject(locked()) : Promise.resolve("ok");
  }, 2_000);
  assert.equal(value, "ok");
  assert.equal(calls, 3);

  await assert.rejects(
    () => withLockRetry(() => Promise.reject(locked()), 60),
    (e: unknown) =>
      e instanceof AppError && e.code === "unavailable" && /deno task start/.test(e.message),
  );
  await assert.rejects(
    () => withLockRetry(() => Promise.reject(new TypeError("boom")), 60),
    TypeError,
    "other errors are not retried",
  );
});
