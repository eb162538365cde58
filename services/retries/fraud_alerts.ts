/**
 * What retries need from fraud triage (README "Retry policy"): does an open
 * fraud alert name this customer, or one resolved as fraud in the last 90
 * days? Either way the payment is retried only with `confirm_fraud_alert:
 * true` and a note. Read from the fraud service's indexes, which it keeps in
 * step with the alerts (an open entry goes when the alert closes; a confirmed
 * one is written when it is resolved as fraud).
 */
import { confirmedFraudAlert, openFraudAlertOf } from "../../kv/customer_fraud_marks.ts";

export interface OpenFraudAlerts {
  /** an open alert naming this customer (its id, for the refusal to name); null when none */
  openAlert(customer: string): Promise<string | null>;
  /** the alert that resolved this customer as fraud, still in force; null when none */
  confirmedAlert(customer: string, now: number): Promise<string | null>;
}

export function openFraudAlertsFromKv(kv: Deno.Kv): OpenFraudAlerts {
  return {
    openAlert: (customer) => openFraudAlertOf(kv, customer),
    confirmedAlert: (customer, now) => confirmedFraudAlert(kv, customer, now),
  };
}
