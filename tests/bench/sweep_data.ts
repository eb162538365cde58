/**
 * The fraud sweep's data, written straight into a KV file with bulk atomic
 * commits: for each customer the records an ingest commit leaves (the
 * customer, its counters record holding the fraud history, its row in the
 * change index, its transactions, its card declines), about 10 payments each
 * over 90 days, 5% declined, 1% of payments in injected patterns. Seeded: the
 * same size gives the same data.
 */
import { emptyAggregates } from "../../services/ingest/mod.ts";
import type { Attempt, FraudHistory } from "../../domain/fraud_history.ts";
import { keys } from "../../kv/keys.ts";
import { sampleTransaction } from "./support.ts";
import { seededRandom as prng } from "../helpers/virtual_time.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MAX_MUTATIONS = 480;

type Pattern = "velocity" | "card_testing" | "churn" | "anomaly" | "new_customer";
const PATTERNS: Pattern[] = ["velocity", "card_testing", "churn", "anomaly", "new_customer"];

interface Plan {
  customer: string;
  created: number;
  attempts: Omit<Attempt, "u" | "k" | "x">[];
}

function planCustomer(i: number, end: number, rnd: () => number, pattern: Pattern | null): Plan {
  const customer = `cus_b${String(i).padStart(7, "0")}`;
  const card = `fp_b${i}`;
  const amount = () =>
    Math.max(100, Math.round(4000 * Math.exp(0.35 * (rnd() + rnd() + rnd() - 1.5) * 2)));
  const ordinary = (n: number) =>
    Array.from({ length: n }, () => ({
      t: end - Math.floor(rnd() * 90 * DAY),
      o: (rnd() < 0.05 ? "f" : "s") as "s" | "f",
      a: amount(),
      c: "usd",
      f: card,
      r: null,
    }));
  const burst = (n: number, spanMs: number, o: Partial<Attempt>) => {
    const start = end - Math.floor(rnd() * 60 * DAY);
    return Array.from({ length: n }, (_, k) => ({
      t: start + Math.floor((spanMs * k) / n),
      o: "s" as "s" | "f",
      a: 1500,
      c: "usd",
      f: card,
      r: null,
      ...o,
    }));
  };
  let created = end - 120 * DAY;
  let attempts: Plan["attempts"];
  switch (pattern) {
    case null:
      attempts = ordinary(5 + Math.floor(rnd() * 11));
      break;
    case "velocity":
      attempts = burst(11, 20 * 60_000, {});
      break;
    case "card_testing":
      attempts = [...ordinary(1), ...burst(9, 2 * HOUR, { o: "f", a: 100 })];
      break;
    case "churn":
      attempts = [
        ...ordinary(5),
        ...burst(5, 10 * HOUR, {}).map((a, k) => ({ ...a, f: `${card}_${k}` })),
      ];
      break;
    case "anomaly": {
      const base = ordinary(9).map((a) => ({ ...a, o: "s" as const, a: 4000 + (a.a % 200) }));
      const last = Math.max(...base.map((a) => a.t)) + DAY;
      attempts = [...base, { t: last, o: "s", a: 80_000, c: "usd", f: card, r: null }];
      break;
    }
    case "new_customer": {
      created = end - Math.floor(rnd() * 60 * DAY) - 2 * DAY;
      attempts = [{ t: created + 2 * HOUR, o: "s", a: 25_000, c: "usd", f: card, r: null }];
      for (let k = 1; k < 10; k++) {
        attempts.push({ ...attempts[0], t: created + k * 3 * DAY, a: 4000 });
      }
      break;
    }
  }
  return { customer, created, attempts };
}

export interface SweepData {
  customers: number;
  transactions: number;
  injectedCustomers: number;
}

/** Writes about `transactions` payments over `transactions / 10` customers. */
export async function seedSweepData(
  kv: Deno.Kv,
  transactions: number,
  end: number,
  onProgress: (n: number) => void = () => {},
): Promise<SweepData> {
  const rnd = prng(2026);
  // a minute back: past the walkers' lag (services/fraud/sweep.ts) when the sweep starts
  const changedAt = end - 60_000;
  let op = kv.atomic();
  let mutations = 0;
  let written = 0;
  let injected = 0;
  let injectedTxns = 0;
  let i = 0;
  const flush = async () => {
    if (mutations === 0) return;
    const res = await op.commit();
    if (!res.ok) throw new Error("seeding the sweep data failed: an unchecked commit was refused");
    op = kv.atomic();
    mutations = 0;
  };
  while (written < transactions) {
    const wantInjected = injectedTxns < written * 0.01;
    const pattern = wantInjected ? PATTERNS[injected % PATTERNS.length] : null;
    const plan = planCustomer(i, end, rnd, pattern);
    if (pattern) {
      injected++;
      injectedTxns += plan.attempts.length;
    }
    const take = plan.attempts.slice(0, transactions - written).sort((a, b) => a.t - b.t);
    const attempts: Attempt[] = take.map((a, k) => ({
      ...a,
      k: `ch_b${i}_${k}`,
      x: `txn_b${String(i).padStart(7, "0")}_${k}`,
      u: changedAt,
    }));
    const history: FraudHistory = {
      subject: plan.customer,
      attempts,
      disputes: [],
      warnings: [],
      changed_at: changedAt,
    };
    const counters = { ...emptyAggregates(plan.customer, end), fraud: history };
    if (mutations + 4 + 2 * attempts.length > MAX_MUTATIONS) await flush();
    op.set(keys.customer(plan.customer), {
      id: plan.customer,
      email: null,
      name: null,
      phone: null,
      description: null,
      created: new Date(plan.created).toISOString(),
      deleted: false,
      payment_methods: [],
      order: [plan.created / 1000, 0],
      events: [],
      updated_at: new Date(end).toISOString(),
    });
    op.set(keys.customerAggregates(plan.customer), counters);
    op.set(keys.fraudChange(changedAt, plan.customer), plan.customer);
    mutations += 3;
    for (const [k, a] of attempts.entries()) {
      op.set(keys.transaction(a.x), {
        ...sampleTransaction(written + k, a.t),
        id: a.x,
        customer: plan.customer,
      });
      mutations++;
      if (a.o === "f" && a.f) {
        op.set(keys.fraudCardDecline(a.f, a.t, plan.customer, a.k), a.x);
        mutations++;
      }
    }
    written += attempts.length;
    i++;
    if (i % 10_000 === 0) onProgress(written);
  }
  await flush();
  return { customers: i, transactions: written, injectedCustomers: injected };
}
