/**
 * The one thing retries need from fraud triage: does this customer have an
 * open fraud alert? (README "Retry policy": such a payment is retried only
 * with `confirm_fraud_alert: true` and a note.) Read from the fraud service's
 * index of each customer's open alerts, which it keeps in step with the
 * alerts themselves (an entry is removed when the alert closes).
 */
import { hasOpenFraudAlert } from "../../kv/retries.ts";

export interface OpenFraudAlerts {
  hasOpenAlert(customer: string): Promise<boolean>;
}

export function openFraudAlertsFromKv(kv: Deno.Kv): OpenFraudAlerts {
  return { hasOpenAlert: (customer) => hasOpenFraudAlert(kv, customer) };
}
