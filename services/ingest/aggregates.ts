/**
 * Per-customer aggregates for the fraud rules, kept up to date in the commit
 * that changes a transaction, so a rule reads one key instead of a history:
 * hourly counts of payments and declines (last 48 h), decline codes, payment
 * method fingerprints with when each was last seen, and a running mean and
 * variance of payment amounts (Welford) per currency.
 *
 * Each attempt or signal is counted once: its key (`ch:…`, `efw:…`) goes into
 * the transaction's `counted` list in the same commit. A card's fingerprint
 * is a contribution of its own (`pm:ch_…`): the PaymentIntent may tell of a
 * charge (and get it counted) before the charge event that names the card
 * arrives, and the card must still be seen then.
 */
import type { AmountStats, CustomerAggregates, HourBucket } from "../../domain/customer.ts";
import type { TxnSync } from "../../domain/transaction.ts";

export type { CustomerAggregates } from "../../domain/customer.ts";

export const AGGREGATE_WINDOW_HOURS = 48;
const HOUR_MS = 3600_000;
const FINGERPRINT_TTL_MS = 30 * 24 * HOUR_MS;
const MAX_FINGERPRINTS = 200;

export interface Contribution {
  key: string;
  kind: "payment" | "failure" | "payment_method" | "early_fraud_warning" | "review" | "dispute";
  /** ms */
  at: number;
  amount?: number;
  currency?: string;
  decline_code?: string | null;
  fingerprint?: string | null;
}

export function emptyAggregates(customer: string, now: number): CustomerAggregates {
  return {
    customer,
    balances: {},
    hours: {},
    fingerprints: {},
    amount_stats: {},
    totals: {
      payments: 0,
      failures: 0,
      declines_by_code: {},
      early_fraud_warnings: 0,
      reviews_opened: 0,
      disputes: 0,
    },
    updated_at: new Date(now).toISOString(),
  };
}

/** Every attempt and signal the transaction's snapshots show. */
export function contributions(sync: TxnSync): Contribution[] {
  const out: Contribution[] = [];
  for (const c of Object.values(sync.charges)) {
    if (c.status !== "succeeded" && c.status !== "failed") continue;
    out.push({
      key: `ch:${c.id}`,
      kind: c.status === "succeeded" ? "payment" : "failure",
      at: c.created * 1000,
      amount: c.amount,
      currency: c.currency,
      decline_code: c.decline_code ?? c.failure_code,
    });
    const fingerprint = c.payment_method?.fingerprint;
    if (fingerprint) {
      out.push({ key: `pm:ch:${c.id}`, kind: "payment_method", at: c.created * 1000, fingerprint });
    }
  }
  const pi = sync.pi;
  // The PaymentIntent may tell of an attempt before (or without) its charge event.
  if (pi?.error && !(pi.error.charge && sync.charges[pi.error.charge])) {
    const key = pi.error.charge ? `ch:${pi.error.charge}` : `pi:${pi.id}:${pi.order[1]}`;
    const at = pi.order[1] * 1000;
    out.push({ key, kind: "failure", at, decline_code: pi.error.decline_code ?? pi.error.code });
    const fingerprint = pi.error.payment_method?.fingerprint;
    if (fingerprint) out.push({ key: `pm:${key}`, kind: "payment_method", at, fingerprint });
  }
  if (pi?.status === "succeeded" && !(pi.latest_charge && sync.charges[pi.latest_charge])) {
    out.push({
      key: pi.latest_charge ? `ch:${pi.latest_charge}` : `pi:${pi.id}:succeeded`,
      kind: "payment",
      at: pi.order[1] * 1000,
      amount: pi.amount_received || pi.amount,
      currency: pi.currency,
    });
  }
  for (const w of Object.values(sync.efws)) {
    out.push({ key: `efw:${w.id}`, kind: "early_fraud_warning", at: w.created * 1000 });
  }
  for (const r of Object.values(sync.reviews)) {
    out.push({ key: `rev:${r.id}`, kind: "review", at: r.created * 1000 });
  }
  for (const d of Object.values(sync.disputes)) {
    out.push({ key: `du:${d.id}`, kind: "dispute", at: d.created * 1000 });
  }
  return out;
}

export function hourOf(ms: number): string {
  return String(Math.floor(ms / HOUR_MS) * HOUR_MS);
}

function welford(s: AmountStats | undefined, x: number): AmountStats {
  const n = (s?.n ?? 0) + 1;
  const mean = (s?.mean ?? 0) + (x - (s?.mean ?? 0)) / n;
  const m2 = (s?.m2 ?? 0) + (x - (s?.mean ?? 0)) * (x - mean);
  return { n, mean, m2 };
}

/** Adds one contribution (mutating `agg`); buckets older than the window are not kept. */
export function addContribution(agg: CustomerAggregates, c: Contribution, now: number): void {
  const inWindow = c.at > now - AGGREGATE_WINDOW_HOURS * HOUR_MS;
  const bucket = (): HourBucket =>
    agg.hours[hourOf(c.at)] ??= { payments: 0, failures: 0, amounts: {}, declines: {} };
  if (c.fingerprint) {
    agg.fingerprints[c.fingerprint] = Math.max(agg.fingerprints[c.fingerprint] ?? 0, c.at);
  }
  switch (c.kind) {
    case "payment": {
      agg.totals.payments++;
      if (c.amount !== undefined && c.currency) {
        agg.amount_stats[c.currency] = welford(agg.amount_stats[c.currency], c.amount);
      }
      if (inWindow) {
        const b = bucket();
        b.payments++;
        if (c.amount !== undefined && c.currency) {
          b.amounts[c.currency] = (b.amounts[c.currency] ?? 0) + c.amount;
        }
      }
      break;
    }
    case "failure": {
      agg.totals.failures++;
      const code = c.decline_code ?? "unknown";
      agg.totals.declines_by_code[code] = (agg.totals.declines_by_code[code] ?? 0) + 1;
      if (inWindow) {
        const b = bucket();
        b.failures++;
        b.declines[code] = (b.declines[code] ?? 0) + 1;
      }
      break;
    }
    case "payment_method":
      break; // the fingerprint, above
    case "early_fraud_warning":
      agg.totals.early_fraud_warnings++;
      break;
    case "review":
      agg.totals.reviews_opened++;
      break;
    case "dispute":
      agg.totals.disputes++;
      break;
  }
}

/** Drops hours past the window and fingerprints unseen for 30 days (and keeps at most 200). */
export function pruneAggregates(agg: CustomerAggregates, now: number): void {
  const oldestHour = now - AGGREGATE_WINDOW_HOURS * HOUR_MS;
  for (const h of Object.keys(agg.hours)) {
    if (Number(h) + HOUR_MS <= oldestHour) delete agg.hours[h];
  }
  const fps = Object.entries(agg.fingerprints)
    .filter(([, seen]) => seen > now - FINGERPRINT_TTL_MS)
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_FINGERPRINTS);
  agg.fingerprints = Object.fromEntries(fps);
}

/** The counters record to change: a copy of `current`, or a new one. */
export function copyCounters(
  current: CustomerAggregates | null,
  customer: string,
  now: number,
): CustomerAggregates {
  return current ? cloneAggregates(current) : emptyAggregates(customer, now);
}

/** A deep copy, field by field: several times cheaper than `structuredClone` on every event. */
function cloneAggregates(a: CustomerAggregates): CustomerAggregates {
  const hours: Record<string, HourBucket> = {};
  for (const [h, b] of Object.entries(a.hours)) {
    hours[h] = {
      payments: b.payments,
      failures: b.failures,
      amounts: { ...b.amounts },
      declines: { ...b.declines },
    };
  }
  const stats: Record<string, AmountStats> = {};
  for (const [c, st] of Object.entries(a.amount_stats)) stats[c] = { ...st };
  return {
    ...a,
    // the balances are replaced, currency by currency, never changed in place
    balances: { ...a.balances },
    hours,
    fingerprints: { ...a.fingerprints },
    amount_stats: stats,
    totals: { ...a.totals, declines_by_code: { ...a.totals.declines_by_code } },
  };
}

/**
 * `customer`'s aggregates after counting what `sync` shows and `counted` does
 * not yet, or null when there is nothing new.
 */
export function planAggregates(
  sync: TxnSync,
  customer: string,
  current: CustomerAggregates | null,
  now: number,
): { aggregates: CustomerAggregates; counted: string[] } | null {
  const seen = new Set(sync.counted);
  const fresh = contributions(sync).filter((c) => !seen.has(c.key));
  if (fresh.length === 0) return null;
  const aggregates: CustomerAggregates = current
    ? cloneAggregates(current)
    : emptyAggregates(customer, now);
  for (const c of fresh) addContribution(aggregates, c, now);
  pruneAggregates(aggregates, now);
  aggregates.updated_at = new Date(now).toISOString();
  return { aggregates, counted: [...sync.counted, ...fresh.map((c) => c.key)] };
}

// --- reading, for the fraud rules and GET /customers/{id} -------------------

/** Payments and declines in the last `windowMs` (whole hours that overlap it). */
export function countInWindow(
  agg: CustomerAggregates,
  now: number,
  windowMs: number,
): { payments: number; failures: number; declines: Record<string, number> } {
  const out = { payments: 0, failures: 0, declines: {} as Record<string, number> };
  for (const [h, b] of Object.entries(agg.hours)) {
    if (Number(h) + HOUR_MS <= now - windowMs || Number(h) > now) continue;
    out.payments += b.payments;
    out.failures += b.failures;
    for (const [code, n] of Object.entries(b.declines)) {
      out.declines[code] = (out.declines[code] ?? 0) + n;
    }
  }
  return out;
}

/** Distinct payment method fingerprints seen in the last `windowMs`. */
export function distinctFingerprints(
  agg: CustomerAggregates,
  now: number,
  windowMs: number,
): number {
  return Object.values(agg.fingerprints).filter((seen) => seen > now - windowMs).length;
}

export function amountStats(
  agg: CustomerAggregates,
  currency: string,
): { count: number; mean: number; stddev: number } | null {
  const s = agg.amount_stats[currency];
  if (!s || s.n === 0) return null;
  return { count: s.n, mean: s.mean, stddev: s.n > 1 ? Math.sqrt(s.m2 / (s.n - 1)) : 0 };
}

export function aggregatesView(agg: CustomerAggregates | null, now: number) {
  if (!agg) return null;
  const hour = countInWindow(agg, now, HOUR_MS);
  const day = countInWindow(agg, now, 24 * HOUR_MS);
  return {
    window_hours: AGGREGATE_WINDOW_HOURS,
    last_hour: { payments: hour.payments, failures: hour.failures },
    last_24h: day,
    hourly: Object.entries(agg.hours)
      .sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([h, b]) => ({
        hour: new Date(Number(h)).toISOString(),
        payments: b.payments,
        failures: b.failures,
        amounts: b.amounts,
        declines: b.declines,
      })),
    distinct_fingerprints: {
      last_24h: distinctFingerprints(agg, now, 24 * HOUR_MS),
      last_7d: distinctFingerprints(agg, now, 7 * 24 * HOUR_MS),
      last_30d: distinctFingerprints(agg, now, 30 * 24 * HOUR_MS),
    },
    amount_stats: Object.fromEntries(
      Object.keys(agg.amount_stats).map((c) => [c, amountStats(agg, c)]),
    ),
    totals: agg.totals,
    updated_at: agg.updated_at,
  };
}
