/**
 * Card testing. For one customer: declined attempts in the window, each
 * failed charge counted (one PaymentIntent declined 8 times is 8). Across
 * customers: one card declined for `extra_at` customers or more in 24 h.
 */
import { inWindow, levelOf, type RuleInput, signal, someIds, windowMs } from "./common.ts";
import type { RuleSettings, Signal } from "../../../domain/fraud.ts";

export function failedAttempts({ attempt, history, settings, sorted }: RuleInput): Signal | null {
  if (attempt.o !== "f") return null;
  const failed = inWindow(history.attempts, attempt.t, windowMs(settings), sorted)
    .filter((a) => a.o === "f");
  const level = levelOf(settings, failed.length);
  if (!level) return null;
  return signal(settings, level, attempt, {
    declined_attempts: failed.length,
    window_minutes: settings.window_minutes,
    card_fingerprints: [...new Set(failed.map((a) => a.f).filter(Boolean))].slice(-20),
    transactions: someIds(failed),
  });
}

/** One decline of a card, for the cross-customer check (kv/fraud.ts keeps them per card). */
export interface CardDecline {
  customer: string;
  t: number;
  /** the declined charge (`ch_…`): with `t` and `customer`, Stripe's order of a card's declines */
  k: string;
  x: string;
}

export const CROSS_CUSTOMER_WINDOW_MS = 24 * 3600_000;

export function cardDeclinedAcrossCustomers(
  fingerprint: string,
  decline: CardDecline,
  declines: CardDecline[],
  settings: RuleSettings,
): Signal | null {
  if (settings.extra_at === null) return null;
  const recent = inWindow(declines, decline.t, CROSS_CUSTOMER_WINDOW_MS);
  const customers = [...new Set(recent.map((d) => d.customer))];
  if (customers.length < settings.extra_at) return null;
  const s = signal(settings, "alert", decline, {
    card_fingerprint: fingerprint,
    customers: customers.slice(-20),
    distinct_customers: customers.length,
    declines: recent.length,
    window_minutes: CROSS_CUSTOMER_WINDOW_MS / 60_000,
    transactions: someIds(recent),
  });
  return { ...s, severity: "high", points: settings.alert_points };
}
