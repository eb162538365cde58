/** Payments of any outcome by one customer in the window. */
import { inWindow, levelOf, type RuleInput, signal, someIds, windowMs } from "./common.ts";
import type { Signal } from "../../../domain/fraud.ts";

export function velocity({ attempt, history, settings, sorted }: RuleInput): Signal | null {
  const seen = inWindow(history.attempts, attempt.t, windowMs(settings), sorted);
  const level = levelOf(settings, seen.length);
  if (!level) return null;
  return signal(settings, level, attempt, {
    payments: seen.length,
    succeeded: seen.filter((a) => a.o === "s").length,
    failed: seen.filter((a) => a.o === "f").length,
    window_minutes: settings.window_minutes,
    transactions: someIds(seen),
  });
}
