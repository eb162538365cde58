/**
 * The transaction as the API shows it, and the record of the Stripe snapshots it is derived
 * from (`TxnSync`; the snapshots' shapes are in domain/stripe_snaps.ts).
 *
 * A transaction is a pure function of the newest snapshot of each Stripe object
 * behind it (the PaymentIntent, its charges, refunds, disputes, fraud signals):
 * every event only ever replaces one snapshot, and only with a newer one
 * (services/ingest/merge.ts), so any delivery order ends in the same transaction.
 */
import { AppError } from "../core/errors.ts";
import type {
  ChargeOutcome,
  ChargeSnap,
  DisputeSnap,
  EfwSnap,
  PaymentMethodSummary,
  PiSnap,
  RefundSnap,
  ReviewSnap,
} from "./stripe_snaps.ts";

export type {
  ChargeOutcome,
  ChargeSnap,
  DisputeSnap,
  EfwSnap,
  Ordered,
  PaymentErrorSummary,
  PaymentMethodSummary,
  PiSnap,
  RefundSnap,
  ReviewSnap,
} from "./stripe_snaps.ts";

export type TxnStatus =
  /** only refunds/disputes/signals seen so far; the payment's own events have not arrived */
  | "unknown"
  | "requires_payment_method"
  | "requires_confirmation"
  | "requires_action"
  | "processing"
  | "requires_capture"
  | "succeeded"
  /** the latest attempt was declined (PaymentIntent back to requires_payment_method with an error) */
  | "failed"
  | "canceled";

export const TXN_STATUSES: readonly TxnStatus[] = [
  "unknown",
  "requires_payment_method",
  "requires_confirmation",
  "requires_action",
  "processing",
  "requires_capture",
  "succeeded",
  "failed",
  "canceled",
];

export interface EarlyFraudWarningSignal {
  id: string;
  fraud_type: string;
  actionable: boolean;
  created: string;
}

export interface ReviewSignal {
  id: string;
  open: boolean;
  reason: string;
  opened_reason: string | null;
  closed_reason: string | null;
  created: string;
}

export interface Transaction extends ChargeOutcome {
  id: string;
  customer: string | null;
  /** what was asked for; for a stub, the least its own objects prove */
  amount: number;
  /** what Stripe captured (never below what was refunded): refunds come out of this */
  amount_captured: number;
  /** what an authorization still holds and could capture (0 once captured or released) */
  amount_capturable: number;
  currency: string;
  status: TxnStatus;
  /** refunds Stripe has accepted (pending or succeeded), from Stripe's refund objects */
  amount_refunded: number;
  /** refunds in flight or awaiting approval: owned by the refunds service, preserved here */
  amount_reserved: number;
  /** what Stripe took back for disputes, net of reinstatements (an inquiry takes nothing) */
  amount_disputed: number;
  stripe_payment_intent: string | null;
  stripe_charge: string | null;
  /** when Stripe created the payment (ISO 8601) */
  created: string;
  description: string | null;
  payment_method: PaymentMethodSummary | null;
  /** status of the most recent dispute, null when never disputed */
  dispute_status: string | null;
  risk_signals: {
    early_fraud_warnings: EarlyFraudWarningSignal[];
    reviews: ReviewSignal[];
  };
  updated_at: string;
}

/** What has been written to the customer's ledger for this transaction (amounts, unsigned). */
export interface Postings {
  customer: string | null;
  currency: string | null;
  payment: number;
  refunds: Record<string, number>;
  withdrawn: Record<string, number>;
  reinstated: Record<string, number>;
  /** refunds whose entry was posted and then reversed (absent: none) */
  reversed?: Record<string, number>;
}

/** The Stripe side of a transaction, kept next to it (`["transaction_sync", id]`). */
export interface TxnSync {
  txn_id: string;
  /** the PaymentIntent this transaction is for (known before its own events for a stub) */
  payment_intent: string | null;
  /** `pi_`/`ch_` ids whose `transactions_by_stripe` entry points here */
  linked: string[];
  pi: PiSnap | null;
  charges: Record<string, ChargeSnap>;
  refunds: Record<string, RefundSnap>;
  disputes: Record<string, DisputeSnap>;
  efws: Record<string, EfwSnap>;
  reviews: Record<string, ReviewSnap>;
  posted: Postings;
  /** attempts and signals already counted in the customer's aggregates (`ch:…`, `efw:…`) */
  counted: string[];
  /** ids of the last events that changed this transaction (a replay is recognised) */
  events: string[];
  /** charge ids dropped from `charges` to bound the record; their events are ignored */
  forgotten: string[];
}

/**
 * The succeeded PaymentIntent's charge is seen captured: its `latest_charge`,
 * or, on a snapshot without one (stored from an API version that listed the
 * charges instead), a captured charge of the payment.
 */
export function paidChargeSeen(sync: TxnSync): boolean {
  const latest = sync.pi?.latest_charge;
  if (latest) return sync.charges[latest]?.captured === true;
  return Object.values(sync.charges).some((c) => c.status === "succeeded" && c.captured);
}

export function emptySync(txnId: string, paymentIntent: string | null): TxnSync {
  return {
    txn_id: txnId,
    payment_intent: paymentIntent,
    linked: [],
    pi: null,
    charges: {},
    refunds: {},
    disputes: {},
    efws: {},
    reviews: {},
    posted: {
      customer: null,
      currency: null,
      payment: 0,
      refunds: {},
      withdrawn: {},
      reinstated: {},
    },
    counted: [],
    events: [],
    forgotten: [],
  };
}

/**
 * 404 for a payment a request names in `field` (`body.transaction_id`) that is
 * not known here, saying which ids are taken.
 */
export function unknownTransaction(id: string, field: string): AppError {
  return new AppError("not_found", `no transaction ${id}`, {
    errors: [{
      path: field,
      message: "no payment with this id is known here: give the txn_…, pi_… or ch_… id of a " +
        "payment (payments appear once Stripe's webhooks have reported them)",
    }],
  });
}
