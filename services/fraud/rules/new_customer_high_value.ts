/**
 * A customer created shortly before a payment at or above the currency's
 * amounts, at the money Stripe captured: a declined attempt took none and
 * counts only where a rule counts failures (README "Fraud detection").
 */
import { type RuleInput, signal, windowMs } from "./common.ts";
import type { Level, Signal } from "../../../domain/fraud.ts";

export function newCustomerHighValue(
  { attempt, customerCreated, settings }: RuleInput,
): Signal | null {
  if (customerCreated === null || attempt.o !== "s") return null;
  const age = attempt.t - customerCreated;
  if (age < 0 || age > windowMs(settings)) return null;
  const alertAmount = settings.amounts[attempt.c];
  const watchAmount = settings.watch_amounts[attempt.c];
  let level: Level | null = null;
  if (alertAmount !== undefined && attempt.a >= alertAmount) level = "alert";
  else if (watchAmount !== undefined && attempt.a >= watchAmount) level = "watch";
  if (!level) return null;
  return signal(settings, level, attempt, {
    amount: attempt.a,
    currency: attempt.c,
    threshold: level === "alert" ? alertAmount : watchAmount,
    customer_age_minutes: Math.floor(age / 60_000),
    customer_created: new Date(customerCreated).toISOString(),
    window_minutes: settings.window_minutes,
    transactions: [attempt.x],
  });
}
