/**
 * Reading the per-customer aggregates (services/ingest/aggregates.ts), for the
 * fraud rules and `GET /customers/{id}`.
 */
import type { CustomerAggregates } from "../../domain/customer.ts";
import { AGGREGATE_WINDOW_HOURS } from "./aggregates.ts";
import { amountSummary } from "../../domain/amount_stats.ts";

const HOUR_MS = 3600_000;

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
  return amountSummary(agg.amount_stats[currency]);
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
