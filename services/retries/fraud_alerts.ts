/**
 * What retries need from fraud triage (README "Retry policy"): does an open
 * fraud alert name this customer, or one resolved as fraud in the last 90
 * days? Either way the payment is retried only with `confirm_fraud_alert:
 * true` and a note. So does an open alert on a card this payment was declined
 * on, or on the card offered: a card-testing alert lists a customer only once
 * the live pass has walked their decline, seconds after it. Read from the
 * fraud service's indexes, which it keeps in step with the alerts (an open
 * entry goes when the alert closes; a confirmed one is written when it is
 * resolved as fraud).
 */
import {
  confirmedFraudAlert,
  openCardFraudAlertOf,
  openFraudAlertOf,
} from "../../kv/customer_fraud_marks.ts";
import type { TxnSync } from "../../domain/transaction.ts";

export interface OpenFraudAlerts {
  /** an open alert naming this customer (its id, for the refusal to name); null when none */
  openAlert(customer: string): Promise<string | null>;
  /** the alert that resolved this customer as fraud, still in force; null when none */
  confirmedAlert(customer: string, now: number): Promise<string | null>;
  /** an open alert on the card (`card:<fingerprint>`, its id); null when none */
  openCardAlert(fingerprint: string): Promise<string | null>;
}

/** The open alert a retry must confirm past, and what it is on (domain/retry.ts `RetryFacts`). */
export interface OpenAlertFound {
  id: string;
  on: "customer" | "payment_card" | "offered_card";
}

/** The cards this payment was declined on (their fingerprints), as the service has seen them. */
function paymentCards(sync: TxnSync): string[] {
  const all = [
    sync.pi?.error?.payment_method?.fingerprint,
    ...Object.values(sync.charges).map((c) => c.payment_method?.fingerprint),
  ];
  return [...new Set(all.filter((f): f is string => typeof f === "string" && f !== ""))];
}

/**
 * An open alert on the customer, else on a card of this payment, else on the card offered
 * (`offered`: its fingerprint, when known); null when none.
 */
export async function openAlertFor(
  alerts: OpenFraudAlerts,
  customer: string,
  sync: TxnSync,
  offered?: string | null,
): Promise<OpenAlertFound | null> {
  const own = await alerts.openAlert(customer);
  if (own) return { id: own, on: "customer" };
  const cards = paymentCards(sync);
  const found = await Promise.all(cards.map((f) => alerts.openCardAlert(f)));
  const declinedOn = found.find((id) => id !== null);
  if (declinedOn) return { id: declinedOn, on: "payment_card" };
  const offeredOn = offered && !cards.includes(offered)
    ? await alerts.openCardAlert(offered)
    : null;
  return offeredOn ? { id: offeredOn, on: "offered_card" } : null;
}

export function openFraudAlertsFromKv(kv: Deno.Kv): OpenFraudAlerts {
  return {
    openAlert: (customer) => openFraudAlertOf(kv, customer),
    confirmedAlert: (customer, now) => confirmedFraudAlert(kv, customer, now),
    openCardAlert: (fingerprint) => openCardFraudAlertOf(kv, fingerprint),
  };
}
