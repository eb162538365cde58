/** Distinct card fingerprints one customer used in the window (any outcome). */
import { inWindow, levelOf, type RuleInput, signal, someIds, windowMs } from "./common.ts";
import type { Signal } from "../../../domain/fraud.ts";

export function paymentMethodChurn(
  { attempt, history, settings, sorted }: RuleInput,
): Signal | null {
  const seen = inWindow(history.attempts, attempt.t, windowMs(settings), sorted).filter((a) => a.f);
  const cards = [...new Set(seen.map((a) => a.f!))];
  const level = levelOf(settings, cards.length);
  if (!level) return null;
  return signal(settings, level, attempt, {
    distinct_cards: cards.length,
    window_minutes: settings.window_minutes,
    card_fingerprints: cards.slice(-20),
    transactions: someIds(seen),
  });
}
