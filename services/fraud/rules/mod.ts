/** The rules, one pure function each, by name. */
export { amountAnomaly, robustZ } from "./amount_anomaly.ts";
export { disputeHistory } from "./dispute_history.ts";
export { earlyFraudWarning } from "./early_fraud_warning.ts";
export {
  type CardDecline,
  cardDeclinedAcrossCustomers,
  CROSS_CUSTOMER_WINDOW_MS,
  failedAttempts,
} from "./failed_attempts.ts";
export { highValueBurst } from "./high_value_burst.ts";
export { newCustomerHighValue } from "./new_customer_high_value.ts";
export { paymentMethodChurn } from "./payment_method_churn.ts";
export { scoreOf, scoreRule, type WatchHit } from "./score.ts";
export { stripeRisk } from "./stripe_risk.ts";
export { velocity } from "./velocity.ts";
export type { MarkInput, RuleInput } from "./common.ts";

import { amountAnomaly } from "./amount_anomaly.ts";
import { failedAttempts } from "./failed_attempts.ts";
import { highValueBurst } from "./high_value_burst.ts";
import { newCustomerHighValue } from "./new_customer_high_value.ts";
import { paymentMethodChurn } from "./payment_method_churn.ts";
import { stripeRisk } from "./stripe_risk.ts";
import { velocity } from "./velocity.ts";
import type { RuleInput } from "./common.ts";
import type { RuleName, Signal } from "../../../domain/fraud.ts";

/**
 * The payment rules whose signal at a payment counts the payments of its
 * window before it (README "Rules and their defaults"): a payment delivered
 * late changes what they see at the later payments of that window.
 */
export const COUNTING_RULES: ReadonlySet<RuleName> = new Set<RuleName>([
  "payment_method_churn",
  "high_value_burst",
  "velocity",
  "failed_attempts",
  "amount_anomaly",
]);

/** The rules evaluated at each payment (the score comes after them). */
export const PAYMENT_RULES: [RuleName, (input: RuleInput) => Signal | null][] = [
  ["payment_method_churn", paymentMethodChurn],
  ["high_value_burst", highValueBurst],
  ["velocity", velocity],
  ["failed_attempts", failedAttempts],
  ["new_customer_high_value", newCustomerHighValue],
  ["amount_anomaly", amountAnomaly],
  ["stripe_risk", stripeRisk],
];
