/**
 * A payment whose PaymentIntent snapshot names no charge (stored from an API
 * version before 2022-11-15, read before its listed charges were) was counted
 * twice: as `pi:<id>:succeeded` and as its charge. The next change to the
 * payment leaves one: the charge (README "Fraud detection").
 */
import assert from "node:assert/strict";
import { type Attempt, emptyHistory, planHistory } from "../domain/fraud_history.ts";
import { emptySync, type Transaction } from "../domain/transaction.ts";
import { chargeSnap, piSnap } from "../services/ingest/snapshots.ts";
import { addContribution, planAggregates } from "../services/ingest/aggregates.ts";
import { contributions, paymentCounted } from "../services/ingest/contributions.ts";
import { chargeObject, paymentIntentObject, T0, VISA } from "./helpers/stripe_objects.ts";

const NOW = (T0 + 3600) * 1000;

function paidTwice() {
  const pi = paymentIntentObject({
    id: "pi_standin",
    customer: "cus_standin",
    status: "succeeded",
    latest_charge: null,
    amount: 4200,
  });
  const ch = chargeObject({
    id: "ch_standin",
    payment_intent: "pi_standin",
    customer: "cus_standin",
    amount: 4200,
    created: T0 + 4,
    card: VISA,
  });
  const sync = emptySync("txn_standin", "pi_standin");
  sync.pi = piSnap(pi, T0 + 4);
  sync.charges[ch.id] = chargeSnap(ch, T0 + 4);
  return { sync, txn: { id: "txn_standin" } as Transaction };
}

Deno.test("a PaymentIntent's stand-in attempt goes once its charge is seen captured", () => {
  const { sync, txn } = paidTwice();
  const attempt = (k: string, f: string | null): Attempt => ({
    k,
    x: txn.id,
    t: (T0 + 4) * 1000,
    o: "s",
    a: 4200,
    c: "usd",
    f,
    r: f ? "normal" : null,
    u: NOW - 1000,
  });
  const before = {
    ...emptyHistory("cus_standin"),
    attempts: [attempt("ch_standin", VISA.fingerprint), attempt("pi:pi_standin:succeeded", null)],
    changed_at: NOW - 1000,
  };
  const after = planHistory(before, "cus_standin", sync, txn, NOW);
  assert.ok(after, "the history changes");
  assert.deepEqual(after.attempts.map((a) => a.k), ["ch_standin"]);
  // a history that holds only what the payment shows is left alone
  assert.equal(planHistory(after, "cus_standin", sync, txn, NOW + 1), null);
});

Deno.test("the aggregates take back the PaymentIntent's stand-in payment", () => {
  const { sync } = paidTwice();
  const at = (T0 + 4) * 1000;
  const charge = `pay:ch:ch_standin@${at}:4200:usd`;
  const standIn = `pay:pi:pi_standin:succeeded@${at}:4200:usd`;
  assert.deepEqual(contributions(sync).filter((c) => c.kind === "payment").map((c) => c.key), [
    charge,
  ]);
  // as counted before: the stand-in and the charge, one payment each
  const counted = planAggregates({ ...sync, counted: [] }, "cus_standin", null, NOW)!.aggregates;
  addContribution(counted, paymentCounted(standIn)!, NOW);
  assert.equal(counted.totals.payments, 2);
  sync.counted = [standIn, charge, `pm:ch:ch_standin`];
  const healed = planAggregates(sync, "cus_standin", counted, NOW);
  assert.ok(healed);
  assert.equal(healed.aggregates.totals.payments, 1);
  assert.equal(healed.aggregates.amount_stats.usd?.n, 1);
  assert.deepEqual(healed.counted, [charge, "pm:ch:ch_standin"]);
});
