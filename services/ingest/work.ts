/**
 * What one Stripe object says about a payment: which transaction it belongs
 * to (`refs`), the snapshots it gives (`observations`), and the customer and
 * currency it names. Pure: the applier does the reading and writing.
 */
import type Stripe from "stripe";
import type { Observation } from "./merge.ts";
import {
  chargeSnap,
  disputeSnap,
  efwSnap,
  idOf,
  latestChargeOf,
  listedCharges,
  piSnap,
  refundSnap,
  reviewSnap,
} from "./snapshots.ts";
import type { TxnApplyInput } from "./apply.ts";

export interface TxnWork {
  refs: TxnApplyInput["refs"];
  observations: Observation[];
  /** the customer named by the object itself, when it names one */
  customer: string | null;
  currency: string | null;
}

/** A charge's snapshot, and its refunds' where it lists them. */
function chargeObservations(ch: Stripe.Charge, at: number): Observation[] {
  const observations: Observation[] = [{ kind: "charge", snap: chargeSnap(ch, at) }];
  // Older API versions list the charge's refunds on it: as good as their own events.
  for (const re of ch.refunds?.data ?? []) {
    observations.push({ kind: "refund", snap: refundSnap(re, at), raw: re });
  }
  return observations;
}

/** The transaction-side reading of one object; null for objects that are not about payments. */
export function txnWork(
  object: { object?: string },
  at: number,
  eventType: string | null,
): TxnWork | null {
  switch (object.object) {
    case "payment_intent": {
      const pi = object as Stripe.PaymentIntent;
      const observations: Observation[] = [{ kind: "pi", snap: piSnap(pi, at) }];
      // Older API versions list the PaymentIntent's charges on it (and no `latest_charge`): as
      // good as their own events, so each attempt is the charge's, once, in any order.
      for (const ch of listedCharges(pi)) observations.push(...chargeObservations(ch, at));
      return {
        refs: { pi: pi.id, charge: latestChargeOf(pi) },
        observations,
        customer: idOf(pi.customer),
        currency: pi.currency,
      };
    }
    case "charge": {
      const ch = object as Stripe.Charge;
      return {
        refs: { pi: idOf(ch.payment_intent), charge: ch.id },
        observations: chargeObservations(ch, at),
        customer: idOf(ch.customer),
        currency: ch.currency,
      };
    }
    case "refund": {
      const re = object as Stripe.Refund;
      return {
        refs: { pi: idOf(re.payment_intent), charge: idOf(re.charge) },
        observations: [{ kind: "refund", snap: refundSnap(re, at), raw: re }],
        customer: null,
        currency: re.currency,
      };
    }
    case "dispute": {
      const du = object as Stripe.Dispute;
      return {
        refs: { pi: idOf(du.payment_intent), charge: idOf(du.charge) },
        observations: [{ kind: "dispute", snap: disputeSnap(du, at, eventType), raw: du }],
        customer: null,
        currency: du.currency,
      };
    }
    case "radar.early_fraud_warning": {
      const w = object as Stripe.Radar.EarlyFraudWarning;
      return {
        refs: { pi: idOf(w.payment_intent), charge: idOf(w.charge) },
        observations: [{ kind: "efw", snap: efwSnap(w, at) }],
        customer: null,
        currency: null,
      };
    }
    case "review": {
      const r = object as Stripe.Review;
      return {
        refs: { pi: idOf(r.payment_intent), charge: idOf(r.charge) },
        observations: [{ kind: "review", snap: reviewSnap(r, at) }],
        customer: null,
        currency: null,
      };
    }
    default:
      return null;
  }
}
