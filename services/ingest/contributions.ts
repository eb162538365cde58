/**
 * What a transaction's snapshots count in its customer's aggregates
 * (services/ingest/aggregates.ts), each under a key of its own (`ch:…`,
 * `efw:…`).
 *
 * A payment counts the money Stripe captured (README, "Fraud detection"): a
 * captured charge's `amount_captured`, or a succeeded PaymentIntent's
 * `amount_received` until its charge is seen captured; an authorization counts
 * once captured and never when released. Its key (`pay:…`) holds what was
 * counted, so what a later snapshot changes is seen. A card's fingerprint
 * is a contribution of its own (`pm:ch_…`): the PaymentIntent may tell of a
 * charge (and get it counted) before the charge event that names the card
 * arrives, and the card must still be seen then. A failure without a charge (a
 * failed 3-D Secure challenge) counts nowhere (README "Fraud detection").
 */
import { paidChargeSeen, type TxnSync } from "../../domain/transaction.ts";

export interface Contribution {
  key: string;
  kind: "payment" | "failure" | "payment_method" | "early_fraud_warning" | "review" | "dispute";
  /** ms */
  at: number;
  amount?: number;
  currency?: string;
  decline_code?: string | null;
  fingerprint?: string | null;
}

/** A payment's contribution; its key (`pay:<id>@<at>:<amount>:<currency>`) holds all of it. */
function payment(id: string, at: number, amount: number, currency: string): Contribution {
  return { key: `pay:${id}@${at}:${amount}:${currency}`, kind: "payment", at, amount, currency };
}

/** The payment a counted key stands for, or null for any other key. */
export function paymentCounted(key: string): Contribution | null {
  const m = /^pay:(.+)@(-?\d+):(\d+):([a-z]+)$/.exec(key);
  if (!m) return null;
  return { key, kind: "payment", at: Number(m[2]), amount: Number(m[3]), currency: m[4] };
}

/** Every attempt and signal the transaction's snapshots show. */
export function contributions(sync: TxnSync): Contribution[] {
  const out: Contribution[] = [];
  for (const c of Object.values(sync.charges)) {
    if (c.status !== "succeeded" && c.status !== "failed") continue;
    if (c.status === "failed") {
      out.push({
        key: `ch:${c.id}`,
        kind: "failure",
        at: c.created * 1000,
        decline_code: c.decline_code ?? c.failure_code,
      });
    } else if (c.captured) {
      out.push(payment(`ch:${c.id}`, c.created * 1000, c.amount_captured, c.currency));
    }
    const fingerprint = c.payment_method?.fingerprint;
    if (fingerprint) {
      out.push({ key: `pm:ch:${c.id}`, kind: "payment_method", at: c.created * 1000, fingerprint });
    }
  }
  const pi = sync.pi;
  // The PaymentIntent may tell of a declined charge before its charge event. An attempt that
  // made no charge (a failed 3-D Secure challenge) is not counted: only the PaymentIntent's
  // error tells of it, and a later state of the PaymentIntent replaces that error, so whether
  // it was ever seen would depend on the order the events came in.
  const declined = pi?.error?.charge;
  if (pi?.error && declined && !sync.charges[declined]) {
    const key = `ch:${declined}`;
    const at = pi.order[1] * 1000;
    out.push({ key, kind: "failure", at, decline_code: pi.error.decline_code ?? pi.error.code });
    const fingerprint = pi.error.payment_method?.fingerprint;
    if (fingerprint) out.push({ key: `pm:${key}`, kind: "payment_method", at, fingerprint });
  }
  if (pi?.status === "succeeded" && !paidChargeSeen(sync)) {
    const id = pi.latest_charge ? `ch:${pi.latest_charge}` : `pi:${pi.id}:succeeded`;
    out.push(payment(id, pi.order[1] * 1000, pi.amount_received || pi.amount, pi.currency));
  }
  for (const w of Object.values(sync.efws)) {
    out.push({ key: `efw:${w.id}`, kind: "early_fraud_warning", at: w.created * 1000 });
  }
  for (const r of Object.values(sync.reviews)) {
    out.push({ key: `rev:${r.id}`, kind: "review", at: r.created * 1000 });
  }
  for (const d of Object.values(sync.disputes)) {
    out.push({ key: `du:${d.id}`, kind: "dispute", at: d.created * 1000 });
  }
  return out;
}
