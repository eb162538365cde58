/**
 * Detection end to end through ingest: a generated stream with injected
 * patterns raises alerts for the injected ones and for at most 1 in 30
 * ordinary customers; a sweep twice raises nothing new; a sweep killed
 * mid-way resumes from its cursor; a backtest equals a live run over the
 * same data (shadow mode: tests/fraud_workflow_test.ts).
 */
import { allFraudAlerts } from "./helpers/fraud.ts";
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { generateStream, type Stream } from "./helpers/fraud_stream.ts";
import { T0 } from "./helpers/stripe_objects.ts";
import { SweepCrash, WALK_LAG_MS } from "../services/fraud/mod.ts";
import type { FraudAlert } from "../domain/fraud.ts";

async function ingest(t: TestApp, s: Stream) {
  for (const e of s.events) {
    const r = await t.services.stripeEvents.apply(e);
    assert.ok(r.applied || r.detail.startsWith("ignored"), r.detail);
  }
}

const keyOf = (a: FraudAlert) => `${a.subject}|${a.rule}`;

let shared: { t: TestApp; s: Stream } | null = null;
async function world() {
  if (shared) return shared;
  const t = await createTestApp();
  const s = generateStream(T0);
  await ingest(t, s);
  // past the walkers' lag: they leave the last few seconds' changes to the next walk
  t.clock.advance(WALK_LAG_MS);
  shared = { t, s };
  return shared;
}

Deno.test("fraud detection over a generated stream", async (ctx) => {
  const { t, s } = await world();
  try {
    await ctx.step("a backtest before any run writes nothing", async () => {
      const before = await t.services.fraud.backtest({ days: 90, rules: {} });
      assert.ok(before.current.alerts > 0);
      assert.equal((await allFraudAlerts(t)).length, 0);
    });

    let first: FraudAlert[] = [];
    await ctx.step("a sweep killed mid-way resumes from its cursor", async () => {
      await assert.rejects(
        t.services.fraud.sweep({ trigger: "test", batchSize: 50, crashAfterBatches: 2 }),
        SweepCrash,
      );
      const runs = (await t.services.fraud.listSweeps({ limit: 10 })).data;
      assert.equal(runs[0].status, "failed");
      assert.equal(runs[0].subjects, 100, "two batches of 50 were done");
      const resumed = await t.services.fraud.sweep({ trigger: "test", batchSize: 50 });
      assert.equal(resumed.status, "finished");
      assert.equal(resumed.cursor_from, runs[0].cursor, "it starts where the crash left off");
      assert.equal(runs[0].subjects + resumed.subjects, 300 + 8, "every subject once");
      first = await allFraudAlerts(t);
    });

    await ctx.step("the injected patterns raise their alerts", () => {
      const keys = new Set(first.map(keyOf));
      for (const [rule, customer] of Object.entries(s.injected)) {
        assert.ok(keys.has(`${customer}|${rule}`), `${rule} for ${customer}: ${[...keys]}`);
      }
      const cross = first.find((a) => a.subject === `card:${s.crossCard}`);
      assert.ok(cross, "the card declined across customers");
      assert.equal(cross.customer, null);
      assert.equal(cross.card_fingerprint, s.crossCard);
      assert.deepEqual(cross.customers.sort(), ["cus_injX1", "cus_injX2", "cus_injX3"]);
      assert.equal(cross.severity, "high");
    });

    await ctx.step("at most 1 in 30 ordinary customers has an alert", () => {
      const ordinary = new Set(s.ordinary);
      const flagged = new Set(first.filter((a) => ordinary.has(a.subject)).map((a) => a.subject));
      const why = first.filter((a) => ordinary.has(a.subject)).map((a) =>
        `${a.rule}:${JSON.stringify(a.signals[0].evidence).slice(0, 200)}`
      );
      assert.ok(
        flagged.size <= 10,
        `${flagged.size} ordinary customers flagged: ${why.join("\n")}`,
      );
    });

    await ctx.step("each alert explains itself: version, signals with evidence, snapshot", () => {
      const v = first.find((a) => a.rule === "velocity")!;
      assert.equal(v.rule_version, 1);
      assert.equal(v.severity, "high");
      assert.ok(v.hit_count >= 2, "later payments of the burst are hits of the same alert");
      assert.equal(v.signals.length, Math.min(50, v.hit_count));
      assert.equal(v.signals.at(-1)!.evidence.payments, 11);
      assert.ok(Array.isArray((v.snapshot as { last_24h: unknown[] }).last_24h));
      assert.equal(new Set(first.map(keyOf)).size, first.length, "one alert per subject and rule");
    });

    await ctx.step("a second sweep raises nothing new", async () => {
      const again = await t.services.fraud.sweep({ trigger: "test" });
      assert.deepEqual([again.alerts_raised, again.hits_added, again.scanned], [0, 0, 0]);
      const live = (await t.services.fraud.live({ trigger: "test" }))!;
      assert.deepEqual([live.alerts_raised, live.hits_added], [0, 0], "the live pass neither");
      assert.deepEqual(
        (await allFraudAlerts(t)).map((a) => a.hit_count),
        first.map((a) => a.hit_count),
      );
    });

    await ctx.step("the backtest with current settings equals the live run", async () => {
      const bt = await t.services.fraud.backtest({ days: 90, rules: {} });
      const live = new Set(first.map(keyOf));
      assert.equal(bt.current.alerts, live.size);
      assert.deepEqual(bt.only_current, []);
      assert.equal(bt.overlap.alerts, live.size);
      const stricter = await t.services.fraud.backtest({
        days: 90,
        rules: { velocity: { alert_at: 20 } },
      });
      assert.deepEqual(stricter.only_current, [`${s.injected.velocity}|velocity`]);
      assert.equal(stricter.proposed.alerts, live.size - 1);
      assert.equal((await allFraudAlerts(t)).length, first.length, "the backtest wrote nothing");
    });

    await ctx.step("an audit entry for every alert raised, in its commit", async () => {
      const entries = [];
      for await (const e of t.kv.list<{ action: string }>({ prefix: ["audit"] })) {
        if (e.value.action === "fraud_alert.raise") entries.push(e);
      }
      assert.equal(entries.length, first.length);
    });
  } finally {
    await t.close();
  }
});

Deno.test("the live pass evaluates each payment event once, and a backfill a year later raises the same alerts", async () => {
  const keysAfter = async (clockShift: number, reverse: boolean) => {
    const t = await createTestApp();
    try {
      t.clock.advance(clockShift);
      const s = generateStream(T0, 5, 30);
      const events = reverse ? [...s.events].reverse() : s.events;
      for (const e of events) await t.services.stripeEvents.apply(e);
      t.clock.advance(WALK_LAG_MS);
      const first = (await t.services.fraud.live({ trigger: "test" }))!;
      assert.ok(first.alerts_raised > 0);
      const second = (await t.services.fraud.live({ trigger: "test" }))!;
      assert.deepEqual([second.subjects, second.hits_added], [0, 0], "nothing changed since");
      return (await allFraudAlerts(t)).map(keyOf).sort();
    } finally {
      await t.close();
    }
  };
  const live = await keysAfter(0, false);
  const backfill = await keysAfter(365 * 24 * 3600_000, true);
  assert.deepEqual(backfill, live);
});

Deno.test("a payment that later fails or succeeds is evaluated again by the next pass", async () => {
  const t = await createTestApp();
  try {
    const s = generateStream(T0, 9, 0);
    // the card tester's declines arrive first as nothing, then one by one
    const declines = s.events.filter((e) => JSON.stringify(e).includes("cus_injCardtest"));
    for (const e of declines.slice(0, 7)) await t.services.stripeEvents.apply(e);
    t.clock.advance(WALK_LAG_MS);
    await t.services.fraud.live({ trigger: "test" });
    assert.equal((await allFraudAlerts(t)).filter((a) => a.rule === "failed_attempts").length, 0);
    t.clock.advance(60_000);
    for (const e of declines.slice(7)) await t.services.stripeEvents.apply(e);
    t.clock.advance(WALK_LAG_MS);
    const run = (await t.services.fraud.live({ trigger: "test" }))!;
    assert.equal(run.subjects, 1);
    const alert = (await allFraudAlerts(t)).find((a) => a.rule === "failed_attempts")!;
    assert.equal(alert.signals.at(-1)!.evidence.declined_attempts, 9);
  } finally {
    await t.close();
  }
});

Deno.test("one sweep at a time: a second start while one runs is a conflict; a dead one's lease runs out", async () => {
  const t = await createTestApp();
  try {
    const s = generateStream(T0, 13, 40);
    for (const e of s.events) await t.services.stripeEvents.apply(e);
    t.clock.advance(WALK_LAG_MS);
    const [a, b] = await Promise.allSettled([
      t.services.fraud.sweep({ trigger: "test", batchSize: 5 }),
      t.services.fraud.sweep({ trigger: "test", batchSize: 5 }),
    ]);
    const statuses = [a.status, b.status].sort();
    assert.deepEqual(statuses, ["fulfilled", "rejected"]);
    const refused = (a.status === "rejected" ? a : b) as PromiseRejectedResult;
    assert.equal(refused.reason.code, "conflict");
    // a sweep that died holding the lease (as a killed process would)
    await t.kv.set(["fraud_cursors", "sweep:lease"], {
      run: "sweep_dead",
      until: t.clock.now() + 60_000,
    });
    await assert.rejects(t.services.fraud.sweep({ trigger: "test" }), /in progress/);
    t.clock.advance(61_000);
    const next = await t.services.fraud.sweep({ trigger: "test" });
    assert.equal(next.status, "finished");
  } finally {
    await t.close();
  }
});

Deno.test("a walk leaves the last few seconds' changes to the next one, so a commit in flight is not passed over", async () => {
  const t = await createTestApp();
  try {
    const s = generateStream(T0, 17, 0);
    for (const e of s.events) await t.services.stripeEvents.apply(e);
    const early = (await t.services.fraud.live({ trigger: "test" }))!;
    assert.equal(early.subjects, 0, "changed within the lag: left for the next walk");
    t.clock.advance(WALK_LAG_MS);
    const next = (await t.services.fraud.live({ trigger: "test" }))!;
    assert.equal(next.subjects, 8);
    assert.ok(next.alerts_raised > 0);
  } finally {
    await t.close();
  }
});
