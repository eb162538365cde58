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

/** Entries in `(at - window, at]`: the window closes at the payment's own time. */
export function inWindow<T extends { t: number }>(list: T[], at: number, window: number): T[] {
  return list.filter((e) => e.t > at - window && e.t <= at);
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
