/**
 * Alert persistence: every signal type, with the largest evidence its rule
 * can produce, saved through the real commit path and read back whole; one
 * open alert per subject and rule collecting hits (each transaction once);
 * a record that could not fit fails loudly instead of vanishing.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { systemContext } from "../domain/actor.ts";
import {
  ALERT_MAX_HITS,
  defaultRuleSettings,
  type FraudAlert,
  type Signal,
} from "../domain/fraud.ts";
import type { Attempt, FraudHistory } from "../domain/fraud_history.ts";
import { evaluateSubject } from "../services/fraud/mod.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { cardDeclinedAcrossCustomers } from "../services/fraud/rules/mod.ts";
import { addAlertWrite, MAX_RECORD_CHARS, RecordTooLarge } from "../kv/fraud.ts";

const T = Date.UTC(2026, 0, 10);
const long = (p: string, i: number) => `${p}_${String(i).padStart(6, "0")}${"Z".repeat(24)}`;

/** 200 attempts in 30 minutes: every count rule fires, with evidence at its largest. */
function heavyHistory(): FraudHistory {
  const attempts: Attempt[] = [];
  for (let i = 0; i < 200; i++) {
    attempts.push({
      k: long("ch", i),
      x: long("txn", i),
      t: T - 30 * 60_000 + i * 9_000,
      o: i % 2 ? "f" : "s",
      a: i === 199 ? 9_000_000 : 60_000 + i,
      c: "usd",
      f: long("fp", i),
      r: i % 3 ? "highest" : "elevated",
      u: 1,
    });
  }
  attempts[199].o = "s";
  const marks = (p: string) =>
    Array.from({ length: 20 }, (_, i) => ({
      k: long(p, i),
      x: long("txn", i),
      t: T - i * 60_000,
      d: "card_never_received:actionable",
      u: 1,
    })).reverse();
  return {
    subject: "cus_heavy",
    attempts,
    disputes: marks("du"),
    warnings: marks("issfr"),
    changed_at: 1,
  };
}

Deno.test("an alert of every signal type saves with the largest evidence and reads back whole", async () => {
  await withTestApp(async (t) => {
    const settings = defaultRuleSettings();
    const e = evaluateSubject(
      { subject: "cus_heavy", history: heavyHistory(), customerCreated: T - 3600_000 },
      settings,
      { attempt: () => true, mark: () => true },
    );
    const cross = cardDeclinedAcrossCustomers(
      "fpX",
      { customer: "cus_99", t: T, k: "ch_x", x: "txn_x" },
      Array.from(
        { length: 100 },
        (_, i) => ({ customer: long("cus", i), t: T - i, k: long("ch", i), x: long("txn", i) }),
      ),
      settings.failed_attempts,
    )!;
    const alertSignals = [...e.signals.filter((s) => s.level === "alert"), cross];
    const rules = new Set(alertSignals.map((s) => s.rule));
    assert.deepEqual([...rules].sort(), [
      "amount_anomaly",
      "dispute_history",
      "early_fraud_warning",
      "failed_attempts",
      "high_value_burst",
      "new_customer_high_value",
      "payment_method_churn",
      "score",
      "stripe_risk",
      "velocity",
    ]);
    const d = raiseDeps(t);
    const ctx = systemContext("test");
    for (const rule of rules) {
      // 60 hits of the largest signal of this rule, each on its own transaction
      const biggest = alertSignals.filter((s) => s.rule === rule)
        .sort((a, b) => JSON.stringify(b).length - JSON.stringify(a).length)[0];
      const hits: Signal[] = Array.from({ length: 60 }, (_, i) => ({
        ...biggest,
        transaction_id: long("txn", 1000 + i),
      }));
      const snapshot = { huge: "x".repeat(4000) };
      const r = await raiseAlerts(
        d,
        ctx,
        customerTarget("cus_heavy"),
        hits,
        () => snapshot,
      );
      assert.deepEqual([r.raised, r.hits], [1, 60], rule);
      const stored = (await t.kv.get<FraudAlert>(["fraud_alerts", r.alerts[0]])).value!;
      assert.equal(stored.hit_count, 60);
      assert.equal(stored.signals.length, ALERT_MAX_HITS);
      assert.deepEqual(stored.signals.at(-1)!.evidence, biggest.evidence, "the newest kept whole");
      assert.ok(JSON.stringify(stored).length <= MAX_RECORD_CHARS);
      // the same hits again change nothing
      const again = await raiseAlerts(
        d,
        ctx,
        customerTarget("cus_heavy"),
        hits,
        () => snapshot,
      );
      assert.deepEqual([again.raised, again.hits], [0, 0]);
    }
  });
});

Deno.test("a hit on a subject and rule with an open alert joins it; a new transaction adds a hit once", async () => {
  await withTestApp(async (t) => {
    const d = raiseDeps(t);
    const target = customerTarget("cus_a");
    const sig = (x: string) => velocityHit(x, new Date(T).toISOString(), { payments: 10 });
    const one = await raiseAlerts(d, systemContext("test"), target, [sig("txn_1")], () => ({}));
    const two = await raiseAlerts(
      d,
      systemContext("test"),
      target,
      [sig("txn_1"), sig("txn_2")],
      () => ({}),
    );
    assert.deepEqual([one.raised, two.raised, two.hits], [1, 0, 1]);
    assert.deepEqual(one.alerts, two.alerts);
    const stored = (await t.kv.get<FraudAlert>(["fraud_alerts", one.alerts[0]])).value!;
    assert.deepEqual(stored.transactions, ["txn_1", "txn_2"]);
    assert.equal(stored.hit_count, 2);
    // a concurrent burst of the same hit: recorded once
    await Promise.all(
      [1, 2, 3].map(() =>
        raiseAlerts(d, systemContext("test"), target, [sig("txn_3")], () => ({}))
      ),
    );
    const after = (await t.kv.get<FraudAlert>(["fraud_alerts", one.alerts[0]])).value!;
    assert.equal(after.hit_count, 3);
  });
});

Deno.test("an alert too large for KV fails loudly before the commit", () => {
  const kv = { set: () => {}, check: () => {} } as unknown as Deno.AtomicOperation;
  const alert = {
    id: "fa_1",
    snapshot: { blob: "x".repeat(MAX_RECORD_CHARS) },
  } as unknown as FraudAlert;
  assert.throws(() => addAlertWrite(kv, alert, false, []), RecordTooLarge);
});
