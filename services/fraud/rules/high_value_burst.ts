/** Succeeded payments at or above the currency's high-value amount in the window. */
import { inWindow, levelOf, type RuleInput, signal, someIds, windowMs } from "./common.ts";
import type { Signal } from "../../../domain/fraud.ts";

export function highValueBurst({ attempt, history, settings, sorted }: RuleInput): Signal | null {
  const high = settings.amounts[attempt.c];
  // a currency without a configured amount: the rule is off for it
  if (high === undefined || attempt.o !== "s" || attempt.a < high) return null;
  const hits = inWindow(history.attempts, attempt.t, windowMs(settings), sorted)
    .filter((a) => a.o === "s" && a.c === attempt.c && a.a >= high);
  const level = levelOf(settings, hits.length);
  if (!level) return null;
  return signal(settings, level, attempt, {
    high_value_payments: hits.length,
    high_value_amount: high,
    currency: attempt.c,
    amounts: hits.map((a) => a.a).slice(-20),
    window_minutes: settings.window_minutes,
    transactions: someIds(hits),
  });
}
