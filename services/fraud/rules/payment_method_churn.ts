/** Distinct card fingerprints one customer used in the window (any outcome). */
import { inWindow, levelOf, type RuleInput, signal, someIds, windowMs } from "./common.ts";
import type { Signal } from "../../../domain/fraud.ts";

export function paymentMethodChurn(
  { attempt, history, settings, sorted }: RuleInput,
): Signal | null {
  const inWin = inWindow(history.attempts, attempt.t, windowMs(settings), sorted);
  // in first-seen order; a customer has few cards, so a list beats a Set here
  const cards: string[] = [];
  for (const a of inWin) if (a.f && !cards.includes(a.f)) cards.push(a.f);
  const level = levelOf(settings, cards.length);
  if (!level) return null;
  return signal(settings, level, attempt, {
    distinct_cards: cards.length,
    window_minutes: settings.window_minutes,
    card_fingerprints: cards.slice(-20),
    transactions: someIds(inWin.filter((a) => a.f)),
  });
}
