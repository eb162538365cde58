/**
 * The customer's score: watch-level points of the last 24 h (one per rule and
 * payment), capped at 100. At `alert_at` (default 60) it raises an alert of its
 * own: high below `extra_at` (default 80), critical from it.
 */
import { type RuleInput, signal, someIds, windowMs } from "./common.ts";
import type { Signal } from "../../../domain/fraud.ts";

export interface WatchHit {
  rule: string;
  x: string;
  t: number;
  points: number;
}

export function scoreOf(hits: WatchHit[], at: number, window: number): number {
  const seen = new Map<string, number>();
  for (const h of hits) {
    if (h.t <= at - window || h.t > at) continue;
    const key = `${h.rule}:${h.x}`;
    seen.set(key, Math.max(seen.get(key) ?? 0, h.points));
  }
  let sum = 0;
  for (const p of seen.values()) sum += p;
  return Math.min(100, sum);
}

export function scoreRule(input: RuleInput, hits: WatchHit[]): Signal | null {
  const { attempt, settings } = input;
  if (settings.alert_at === null) return null;
  const score = scoreOf(hits, attempt.t, windowMs(settings));
  if (score < settings.alert_at) return null;
  const critical = settings.extra_at !== null && score >= settings.extra_at;
  const inWin = hits.filter((h) => h.t > attempt.t - windowMs(settings) && h.t <= attempt.t);
  const s = signal(settings, "alert", attempt, {
    score,
    threshold: settings.alert_at,
    critical_at: settings.extra_at,
    window_minutes: settings.window_minutes,
    contributions: inWin.slice(-20).map((h) => ({ rule: h.rule, points: h.points, txn: h.x })),
    transactions: someIds(inWin),
  });
  return { ...s, points: score, severity: critical ? "critical" : "high" };
}
