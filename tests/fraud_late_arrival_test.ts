/**
 * Payments delivered out of order raise the same alerts as in order (README
 * "Fraud detection": windows are measured from the payment's own Stripe
 * time, so any delivery order raises what live traffic would): a payment
 * that arrives after later ones is counted in the windows of those later
 * payments, for one customer (velocity) and for a card declined across
 * customers, by the live pass and by the sweep alike.
 */
import { allFraudAlerts } from "./helpers/fraud.ts";
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { chargeEvent, otherCard, T0 } from "./helpers/stripe_objects.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";
import { changedSince, evaluateSubject } from "../services/fraud/engine.ts";
import { defaultRuleSettings } from "../domain/fraud.ts";
import type { Attempt, FraudHistory, Mark } from "../domain/fraud_history.ts";

const T = T0 - 1800;
const CARD = otherCard(777);

function charge(customer: string, at: number, o: { failed?: boolean; amount?: number } = {}) {
  return chargeEvent(customer, at, { ...o, card: o.failed ? CARD : otherCard(500) });
}

/** Ten payments of one customer 30 s apart; one card declined for three customers in 6 min. */
function events() {
  const burst = Array.from({ length: 10 }, (_, i) =>
    charge("cus_late", T + i * 30, {
      amount: 700 + i,
    }));
  const declines = [
    charge("cus_cardY3", T + 300, { failed: true }),
    charge("cus_cardY1", T + 600, { failed: true }),
    charge("cus_cardY2", T + 660, { failed: true }),
  ];
  return { burst, declines };
}

async function alertKeys(t: TestApp): Promise<string[]> {
  return (await allFraudAlerts(t)).map((a) => `${a.subject}|${a.rule}`).sort();
}

/**
 * Delivers `first`, walks, then (a minute later) `late`, walks again; the
 * walker is the live pass or the sweep. Returns the alerts' subject|rule.
 */
async function deliver(
  walker: "live" | "sweep",
  first: Stripe.Event[],
  late: Stripe.Event[],
): Promise<{ keys: string[]; t: TestApp }> {
  const t = await createTestApp();
  const walk = () =>
    walker === "live"
      ? t.services.fraud.live({ trigger: "test" })
      : t.services.fraud.sweep({ trigger: "test" });
  // a second between deliveries, and other traffic last, as a webhook stream would
  const apply = async (e: Stripe.Event) => {
    await t.services.stripeEvents.apply(e);
    t.clock.advance(1_000);
  };
  for (const e of first) await apply(e);
  await apply(charge("cus_other", T + 900));
  t.clock.advance(WALK_LAG_MS);
  await walk();
  t.clock.advance(60_000);
  for (const e of late) await apply(e);
  t.clock.advance(WALK_LAG_MS);
  await walk();
  return { keys: await alertKeys(t), t };
}

for (const walker of ["live", "sweep"] as const) {
  Deno.test(`${walker}: a payment delivered after later ones counts in their windows (velocity, card across customers)`, async () => {
    const { burst, declines } = events();
    const inOrder = await deliver(walker, [...burst, ...declines], []);
    // the first payment of the burst and the earliest decline arrive last
    const outOfOrder = await deliver(walker, [...burst.slice(1), ...declines.slice(1)], [
      burst[0],
      declines[0],
    ]);
    try {
      assert.ok(inOrder.keys.includes("cus_late|velocity"), inOrder.keys.join(", "));
      assert.ok(inOrder.keys.includes(`card:${CARD.fingerprint}|failed_attempts`));
      assert.deepEqual(outOfOrder.keys, inOrder.keys, "the same alerts whatever the order");
      const page = await outOfOrder.t.services.fraud.listAlerts({ limit: 100 });
      const velocity = page.data.find((a) => a.rule === "velocity")!;
      assert.equal(velocity.signals.at(-1)!.evidence.payments, 10);
      const card = page.data.find((a) => a.subject === `card:${CARD.fingerprint}`)!;
      assert.deepEqual(card.customers.sort(), ["cus_cardY1", "cus_cardY2", "cus_cardY3"]);
      assert.equal(card.signals.at(-1)!.evidence.distinct_customers, 3);
      // and what analyze says is what the service holds
      const analyzed = await outOfOrder.t.services.fraud.analyze({ customer_id: "cus_late" });
      assert.ok(analyzed.signals.some((s) => s.rule === "velocity" && s.level === "alert"));
    } finally {
      await inOrder.t.close();
      await outOfOrder.t.close();
    }
  });
}

Deno.test("a late payment re-evaluates the later payments whose windows hold it, each a hit once", async () => {
  const { burst } = events();
  const earlier = charge("cus_late", T - 600, { amount: 650 });
  const { t } = await deliver("live", burst.slice(1), [burst[0]]);
  const inOrder = await deliver("live", [earlier, ...burst], []);
  try {
    const again = (await t.services.fraud.live({ trigger: "test" }))!;
    assert.deepEqual([again.subjects, again.hits_added], [0, 0], "nothing changed since");
    // another late payment, ten minutes before the burst: in the windows of all ten
    t.clock.advance(60_000);
    await t.services.stripeEvents.apply(earlier);
    t.clock.advance(WALK_LAG_MS);
    const run = (await t.services.fraud.live({ trigger: "test" }))!;
    assert.equal(run.subjects, 1);
    assert.equal(run.scanned, 11, "the late payment and the ten whose windows now hold it");
    assert.equal(run.alerts_raised, 0, "the open alerts grow");
    const hits = async (w: TestApp) =>
      (await w.services.fraud.listAlerts({ limit: 100, customer: "cus_late" })).data
        .map((a) => `${a.rule}:${a.hit_count}:${a.signals.map((s) => s.at).sort()}`).sort();
    assert.deepEqual(await hits(t), await hits(inOrder.t), "the hits of in-order delivery");
    const last = (await t.services.fraud.live({ trigger: "test" }))!;
    assert.deepEqual([last.subjects, last.hits_added], [0, 0]);
  } finally {
    await t.close();
    await inOrder.t.close();
  }
});

Deno.test("evaluateSubject(): a late entry reaches later ones only through windows that hold it", () => {
  const settings = defaultRuleSettings();
  const MIN = 60_000;
  const at = Date.UTC(2026, 0, 10, 12, 0, 0);
  let k = 0;
  const att = (t: number, u: number, o: Partial<Attempt> = {}): Attempt => ({
    k: `ch_${++k}`,
    x: `txn_${k}`,
    t,
    o: "s",
    a: 700,
    c: "usd",
    f: "fpA",
    r: null,
    u,
    ...o,
  });
  // payments already evaluated (u 1), Stripe's "elevated" on the last; the first arrives late (u 5)
  const attempts = [
    att(at, 5, { r: "elevated" }),
    ...Array.from({ length: 6 }, (_, i) => att(at + (i + 1) * MIN, 1)),
    att(at + 40 * MIN, 1, { r: "elevated" }),
  ];
  const dispute = (t: number, u: number): Mark => ({ k: `dp_${t}`, x: "txn_1", t, d: "fraud", u });
  const history: FraudHistory = {
    subject: "cus_r",
    attempts,
    disputes: [dispute(at, 5), dispute(at + 3 * MIN, 1)],
    warnings: [],
    changed_at: 5,
  };
  const e = evaluateSubject(
    { subject: "cus_r", history, customerCreated: null },
    settings,
    changedSince(5),
  );
  const where = (rule: string) =>
    e.signals.filter((s) => s.rule === rule).map((s) => (Date.parse(s.at) - at) / MIN);
  assert.deepEqual(where("velocity"), [6], "seven in 30 min at the seventh payment: a watch");
  assert.deepEqual(where("stripe_risk"), [0], "a payment's own rule: only at the late one");
  assert.deepEqual(where("dispute_history"), [3], "the later dispute's 90 days hold the late one");
  assert.equal(e.evaluated, 8, "the late one, and the seven its 90 days (amount_anomaly) reach");
  const inOrder = evaluateSubject(
    { subject: "cus_r", history, customerCreated: null },
    settings,
    { attempt: () => true, mark: () => true },
  );
  const alerts = (signals: typeof e.signals) =>
    signals.filter((s) => s.level === "alert").map((s) => `${s.rule}@${s.at}`).sort();
  assert.deepEqual(where("score"), [40], "20 + 25 + 20 points in 24 h, one of them late");
  assert.deepEqual(alerts(e.signals), alerts(inOrder.signals), "the alerts of in-order delivery");
  // with velocity the only counting rule, the last payment is reached through the score's window
  const narrow = defaultRuleSettings();
  for (const r of ["payment_method_churn", "high_value_burst", "failed_attempts"] as const) {
    narrow[r].enabled = false;
  }
  narrow.amount_anomaly.enabled = false;
  const e2 = evaluateSubject(
    { subject: "cus_r", history, customerCreated: null },
    narrow,
    changedSince(5),
  );
  assert.deepEqual(
    e2.signals.filter((s) => s.rule === "score").map((s) => (Date.parse(s.at) - at) / MIN),
    [40],
  );
  assert.equal(e2.evaluated, 8);
});
