/**
 * Per-customer aggregates for the fraud rules, kept up to date in the commit
 * that changes a transaction, so a rule reads one key instead of a history:
 * hourly counts of payments and declines (last 48 h), decline codes, payment
 * method fingerprints with when each was last seen, and the count, sum and sum
 * of squares of payment amounts per currency (exact integers: domain/amount_stats.ts).
 *
 * Each attempt or signal is counted once: its key goes into the transaction's
 * `counted` list in the same commit (services/ingest/contributions.ts says
 * what counts). A payment counted with other figures than the snapshots show
 * now (a capture after the authorization, a release) is taken back and the
 * new one counted, so every delivery order ends in the same counts.
 */
import type { AmountStats, CustomerAggregates, HourBucket } from "../../domain/customer.ts";
import type { TxnSync } from "../../domain/transaction.ts";
import { type Contribution, contributions, paymentCounted } from "./contributions.ts";
import { withAmount, withoutAmount } from "../../domain/amount_stats.ts";

export type { CustomerAggregates } from "../../domain/customer.ts";
export type { Contribution } from "./contributions.ts";

export const AGGREGATE_WINDOW_HOURS = 48;
const HOUR_MS = 3600_000;
const FINGERPRINT_TTL_MS = 30 * 24 * HOUR_MS;
const MAX_FINGERPRINTS = 200;

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

export function hourOf(ms: number): string {
  return String(Math.floor(ms / HOUR_MS) * HOUR_MS);
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
        agg.amount_stats[c.currency] = withAmount(agg.amount_stats[c.currency], c.amount);
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

/** Takes `n` off `rec[k]`, dropping the key at zero. */
function takeOff(rec: Record<string, number>, k: string, n = 1): void {
  const left = (rec[k] ?? 0) - n;
  if (left > 0) rec[k] = left;
  else delete rec[k];
}

/** The inverse of `addContribution`, mutating `agg`. */
export function removeContribution(agg: CustomerAggregates, c: Contribution, now: number): void {
  const hour = hourOf(c.at);
  const bucket = c.at > now - AGGREGATE_WINDOW_HOURS * HOUR_MS ? agg.hours[hour] : undefined;
  // the card's last sighting, when it is this one (an older one of the same card is not kept)
  if (c.fingerprint && agg.fingerprints[c.fingerprint] === c.at) {
    delete agg.fingerprints[c.fingerprint];
  }
  const totals = agg.totals;
  switch (c.kind) {
    case "payment": {
      totals.payments = Math.max(0, totals.payments - 1);
      if (c.amount !== undefined && c.currency) {
        const left = withoutAmount(agg.amount_stats[c.currency], c.amount);
        if (left) agg.amount_stats[c.currency] = left;
        else delete agg.amount_stats[c.currency];
        if (bucket) takeOff(bucket.amounts, c.currency, c.amount);
      }
      if (bucket) bucket.payments = Math.max(0, bucket.payments - 1);
      break;
    }
    case "failure": {
      const code = c.decline_code ?? "unknown";
      totals.failures = Math.max(0, totals.failures - 1);
      takeOff(totals.declines_by_code, code);
      if (bucket) {
        bucket.failures = Math.max(0, bucket.failures - 1);
        takeOff(bucket.declines, code);
      }
      break;
    }
    case "payment_method":
      break; // the fingerprint, above
    case "early_fraud_warning":
      totals.early_fraud_warnings = Math.max(0, totals.early_fraud_warnings - 1);
      break;
    case "review":
      totals.reviews_opened = Math.max(0, totals.reviews_opened - 1);
      break;
    case "dispute":
      totals.disputes = Math.max(0, totals.disputes - 1);
      break;
  }
  const emptied = bucket && !bucket.payments && !bucket.failures &&
    !Object.keys(bucket.amounts).length && !Object.keys(bucket.declines).length;
  if (emptied) {
    delete agg.hours[hour];
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
  const shown = contributions(sync);
  // a payment counted before its key held its amount (`ch:…`) stays as it was counted
  const fresh = shown.filter((c) =>
    !seen.has(c.key) && !(c.kind === "payment" && seen.has(c.key.slice(4, c.key.indexOf("@"))))
  );
  const keys = new Set(shown.map((c) => c.key));
  const stale = sync.counted.filter((k) => !keys.has(k) && paymentCounted(k));
  if (fresh.length === 0 && stale.length === 0) return null;
  const aggregates: CustomerAggregates = current
    ? cloneAggregates(current)
    : emptyAggregates(customer, now);
  for (const k of stale) removeContribution(aggregates, paymentCounted(k)!, now);
  for (const c of fresh) addContribution(aggregates, c, now);
  pruneAggregates(aggregates, now);
  aggregates.updated_at = new Date(now).toISOString();
  const kept = sync.counted.filter((k) => !stale.includes(k));
  return { aggregates, counted: [...kept, ...fresh.map((c) => c.key)] };
}
