/**
 * What every rule shares: its input, windows measured back from the payment's
 * own Stripe time (never from "now"), and turning a count into a signal.
 */
import type { Attempt, FraudHistory, Mark } from "../../../domain/fraud_history.ts";
import type { Level, RuleSettings, Signal } from "../../../domain/fraud.ts";

export interface RuleInput {
  /** the payment evaluated at */
  attempt: Attempt;
  history: FraudHistory;
  /** when the customer was created at Stripe (ms), null when unknown or no customer */
  customerCreated: number | null;
  settings: RuleSettings;
  /** `history.attempts` is in Stripe-time order (evaluateSubject checks once): windows are slices */
  sorted?: boolean;
}

export interface MarkInput {
  mark: Mark;
  history: FraudHistory;
  settings: RuleSettings;
}

export const MINUTE_MS = 60_000;

export function windowMs(s: RuleSettings): number {
  return s.window_minutes * MINUTE_MS;
}

/**
 * Entries in `(at - window, at]`: the window closes at the payment's own time.
 * On a list in time order (`sorted`) the same entries are one slice, found by
 * two binary searches instead of a pass over the whole history.
 */
export function inWindow<T extends { t: number }>(
  list: T[],
  at: number,
  window: number,
  sorted = false,
): T[] {
  if (!sorted) return list.filter((e) => e.t > at - window && e.t <= at);
  return list.slice(firstAfter(list, at - window), firstAfter(list, at));
}

/** The index of the first entry with `t > at` in a list in time order. */
function firstAfter(list: { t: number }[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].t > at) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Whether the entries are in time order (ties in any order). */
export function inTimeOrder(list: { t: number }[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i].t < list[i - 1].t) return false;
  return true;
}

/** `alert` at or above `alert_at`, `watch` at or above `watch_at`, else null. */
export function levelOf(s: RuleSettings, value: number): Level | null {
  if (s.alert_at !== null && value >= s.alert_at) return "alert";
  if (s.watch_at !== null && value >= s.watch_at) return "watch";
  return null;
}

export function signal(
  s: RuleSettings,
  level: Level,
  at: { t: number; x: string },
  evidence: Record<string, unknown>,
): Signal {
  return {
    rule: s.rule,
    level,
    points: level === "alert" ? s.alert_points : s.watch_points,
    severity: s.severity,
    transaction_id: at.x,
    at: new Date(at.t).toISOString(),
    rule_version: s.version,
    shadow: s.shadow,
    evidence,
  };
}

/** At most `n` ids for evidence (the newest), so a burst of 500 declines stays small. */
export function someIds(list: { x: string }[], n = 20): string[] {
  return [...new Set(list.map((e) => e.x))].slice(-n);
}
