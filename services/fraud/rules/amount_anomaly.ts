/**
 * An amount far above the customer's history: a robust z-score over the
 * earlier succeeded payments in the same currency within the window (at
 * least `extra_at` of them). z = 0.6745 (x - median) / MAD, with the MAD
 * floored at 1% of the median, so a run of equal amounts does not make every
 * change infinitely anomalous. The amount must also be at least `min_ratio`
 * times the median (default 3): with three earlier payments the MAD is the
 * smaller of two gaps, and the z-score alone flags ordinary spread. Only a
 * succeeded payment is judged, at the money captured: a declined attempt took
 * none (README "Fraud detection").
 */
import { inWindow, levelOf, type RuleInput, signal, windowMs } from "./common.ts";
import type { Signal } from "../../../domain/fraud.ts";

export function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function robustZ(x: number, history: number[]): { z: number; median: number; mad: number } {
  const med = median(history);
  const mad = Math.max(median(history.map((h) => Math.abs(h - med))), med * 0.01);
  return { z: mad > 0 ? (0.6745 * (x - med)) / mad : 0, median: med, mad };
}

export function amountAnomaly({ attempt, history, settings, sorted }: RuleInput): Signal | null {
  if (attempt.o !== "s") return null;
  const earlier = inWindow(history.attempts, attempt.t, windowMs(settings), sorted)
    .filter((a) => a.o === "s" && a.c === attempt.c && a.k !== attempt.k && a.t < attempt.t);
  if (earlier.length < (settings.extra_at ?? 3)) return null;
  const amounts = earlier.map((a) => a.a);
  // the median is at least the smallest amount: most payments fail the ratio before any sort
  if (settings.min_ratio !== null && settings.min_ratio > 0) {
    if (attempt.a < settings.min_ratio * Math.min(...amounts)) return null;
  }
  const r = robustZ(attempt.a, amounts);
  if (settings.min_ratio !== null && attempt.a < settings.min_ratio * r.median) return null;
  const level = levelOf(settings, r.z);
  if (!level) return null;
  return signal(settings, level, attempt, {
    amount: attempt.a,
    currency: attempt.c,
    robust_z: Math.round(r.z * 100) / 100,
    median: r.median,
    ratio_to_median: Math.round((attempt.a / r.median) * 100) / 100,
    mad: r.mad,
    history_payments: amounts.length,
    recent_amounts: amounts.slice(-20),
    window_minutes: settings.window_minutes,
    transactions: [attempt.x],
  });
}
