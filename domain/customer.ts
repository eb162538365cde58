/**
 * A customer as last seen at Stripe, its append-only ledger, and the counters
 * kept beside it: the balance per currency and the aggregates fraud rules read.
 */
import type { PaymentMethodSummary } from "./transaction.ts";
import type { FraudHistory } from "./fraud_history.ts";

export interface SavedPaymentMethod extends PaymentMethodSummary {
  id: string;
  /** ISO 8601 */
  attached_at: string;
}

/** A customer's details as one Stripe object showed them. */
export interface CustomerDetails {
  email: string | null;
  name: string | null;
  phone: string | null;
  description: string | null;
  /** ISO 8601 */
  created: string | null;
}

/** One event's details (`v`) and what its `previous_attributes` say they were before (`p`). */
export interface CustomerSnapshot {
  v: CustomerDetails;
  p: Partial<CustomerDetails> | null;
}

/**
 * A tied snapshot as a record keeps it: digests of its details (`h`, in the
 * order email, name, phone, description, created; null for null) and of what
 * its `previous_attributes` say (`p`), so that its size does not grow with the
 * texts; its details (`v`) only while it may still be the one shown.
 */
export interface TiedSnapshot {
  h: (string | null)[];
  p: Partial<Record<keyof CustomerDetails, string | null>> | null;
  v?: CustomerDetails;
}

export interface CustomerRecord {
  id: string;
  email: string | null;
  name: string | null;
  phone: string | null;
  description: string | null;
  /** ISO 8601; null until Stripe's customer object has been seen */
  created: string | null;
  deleted: boolean;
  payment_methods: SavedPaymentMethod[];
  /**
   * ids of the payment methods Stripe detached from this customer (the last
   * few hundred; absent on records written before): a detached payment method
   * is never attached again, so a late `payment_method.attached` does not bring it back
   */
  detached_payment_methods?: string[];
  /** place of the details shown (`[created, kind]`); empty until an event told them */
  order: number[];
  /**
   * the snapshots tied at `order` (absent on records written before they were
   * kept; full `CustomerSnapshot`s on records written before digests were)
   */
  tied?: (TiedSnapshot | CustomerSnapshot)[];
  events: string[];
  updated_at: string;
}

/**
 * `reassignment`: the transaction's money taken off this ledger, as Stripe's
 * payment turned out to be another customer's, or paid in another currency,
 * than an earlier event showed.
 */
export type LedgerEntryType =
  | "payment"
  | "refund"
  | "refund_reversal"
  | "dispute_withdrawal"
  | "dispute_reinstatement"
  | "reassignment";

export interface LedgerEntry {
  id: string;
  customer: string;
  type: LedgerEntryType;
  /** signed, minor units: what the customer paid in is positive, what went back negative */
  amount: number;
  currency: string;
  transaction_id: string;
  /** the Stripe object behind it: `ch_…`/`pi_…`, `re_…`, `du_…` */
  stripe_object: string;
  /** ISO 8601 */
  at: string;
}

export interface CustomerBalance {
  customer: string;
  currency: string;
  amount: number;
  /** how many entries make it, to check `amount` against the ledger */
  entries: number;
  updated_at: string;
}

export interface HourBucket {
  payments: number;
  failures: number;
  /** sum of successful payment amounts per currency */
  amounts: Record<string, number>;
  declines: Record<string, number>;
}

/**
 * Successful payment amounts of one currency as exact integer sums
 * (domain/amount_stats.ts): the same payments give the same figures, to the
 * last digit, in any order. Records written before carry Welford's running
 * `mean` and `m2` instead (read as they are; the next payment converts them).
 */
export interface AmountStats {
  n: number;
  /** sum of the amounts, minor units */
  sum?: number;
  /** sum of their squares, a decimal integer (it outgrows a float's exact integers) */
  sum_sq?: string;
  /** older records: Welford's running mean and sum of squared deviations */
  mean?: number;
  m2?: number;
}

/** One currency's balance, as kept in the customer's counters record. */
export interface BalanceCounter {
  amount: number;
  entries: number;
  updated_at: string;
}

/**
 * The customer's counters, one record written in the commit that changes
 * any of them: the balance per currency and the aggregates the fraud rules
 * read. One key, so a payment moves both with one write and one check.
 */
export interface CustomerAggregates {
  customer: string;
  /** currency -> balance: always the sum of that currency's ledger entries (absent: none yet) */
  balances?: Record<string, BalanceCounter>;
  /** hour start (ms, as a string) -> counts, for the last `AGGREGATE_WINDOW_HOURS` */
  hours: Record<string, HourBucket>;
  /** payment method fingerprint -> last seen (ms) */
  fingerprints: Record<string, number>;
  amount_stats: Record<string, AmountStats>;
  totals: {
    payments: number;
    failures: number;
    declines_by_code: Record<string, number>;
    early_fraud_warnings: number;
    reviews_opened: number;
    disputes: number;
  };
  /** the recent attempts the fraud rules count in (domain/fraud_history.ts) */
  fraud?: FraudHistory;
  updated_at: string;
}

/** The balances in a counters record, as the API shows them, by currency. */
export function balancesOf(aggregates: CustomerAggregates | null): CustomerBalance[] {
  return Object.entries(aggregates?.balances ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([currency, b]) => ({ customer: aggregates!.customer, currency, ...b }));
}
