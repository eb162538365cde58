/** Stripe's own risk level on the charge: `elevated` is a watch, `highest` an alert. */
import { type RuleInput, signal } from "./common.ts";
import type { Signal } from "../../../domain/fraud.ts";

export function stripeRisk({ attempt, settings }: RuleInput): Signal | null {
  const level = attempt.r === "highest" ? "alert" : attempt.r === "elevated" ? "watch" : null;
  if (!level) return null;
  return signal(settings, level, attempt, {
    risk_level: attempt.r,
    charge: attempt.k,
    transactions: [attempt.x],
  });
}
