/**
 * The Stripe snapshots a transaction is derived from (domain/transaction.ts):
 * the newest of each object behind it, as stored in its `TxnSync`, and the
 * parts of a charge the transaction shows.
 */

export interface PaymentMethodSummary {
  type: string;
  brand: string | null;
  last4: string | null;
  fingerprint: string | null;
}

/** Why the latest attempt failed and Radar's view of it, as Stripe reports them on the charge. */
export interface ChargeOutcome {
  failure_code: string | null;
  decline_code: string | null;
  advice_code: string | null;
  failure_message: string | null;
  risk_level: string | null;
  risk_score: number | null;
}

/**
 * Where a snapshot sits in its object's history; compared element by element
 * (services/ingest/merge.ts `isNewer`).
 */
export interface Ordered {
  order: number[];
}

export interface PaymentErrorSummary {
  code: string | null;
  decline_code: string | null;
  advice_code: string | null;
  message: string | null;
  charge: string | null;
  payment_method: PaymentMethodSummary | null;
  /** the declined payment method's id (absent on snapshots stored before it was kept) */
  payment_method_id?: string | null;
}

export interface PiSnap extends Ordered {
  id: string;
  status: string;
  error: PaymentErrorSummary | null;
  latest_charge: string | null;
  /**
   * the PaymentIntent's payment method id (the one it succeeded, is authorized or is being
   * authenticated with); absent on snapshots stored before it was kept
   */
  payment_method?: string | null;
  amount: number;
  amount_received: number;
  /** absent on snapshots stored before it was kept */
  amount_capturable?: number;
  currency: string;
  customer: string | null;
  description: string | null;
  /** Stripe's `created`, seconds */
  created: number;
  /**
   * A read from the API (a confirm's answer, a read-back), not an event: the
   * earliest Stripe time (seconds) it can have been true at. Its `order` places
   * it after everything seen before the read, which may be later than this.
   */
  read_at?: number;
}

export interface ChargeSnap extends Ordered, ChargeOutcome {
  id: string;
  payment_intent: string | null;
  status: string;
  captured: boolean;
  amount: number;
  amount_captured: number;
  /** what Stripe reported as refunded on the charge; only used to notice refunds we have not seen */
  amount_refunded: number;
  currency: string;
  customer: string | null;
  description: string | null;
  created: number;
  payment_method: PaymentMethodSummary | null;
}

export interface RefundSnap extends Ordered {
  id: string;
  charge: string | null;
  amount: number;
  currency: string;
  status: string;
  /** our refund record (`rfd_…`) when the refund was made by this service */
  refund_id: string | null;
  reason: string | null;
  failure_reason: string | null;
  created: number;
  /**
   * a refund that no longer counts (failed, canceled) was seen here in a
   * status that counts (pending, succeeded) too: Stripe accepted it first
   */
  accepted?: true;
}

export interface DisputeSnap extends Ordered {
  id: string;
  charge: string | null;
  amount: number;
  currency: string;
  status: string;
  reason: string;
  created: number;
  evidence_due_by: number | null;
  submission_count: number;
  /** funds taken / given back so far; only ever grow (balance transactions are append-only) */
  withdrawn: number;
  reinstated: number;
  /** as Stripe says on the dispute (absent on snapshots taken before these were kept) */
  is_charge_refundable?: boolean;
  has_evidence?: boolean;
  past_due?: boolean;
  submission_method?: string | null;
  /** dispute fees net of any returned, from the balance transactions */
  fee?: number;
  /**
   * A read from the API (an answer to a call, a sync, a read-back), not an
   * event: Stripe's time (seconds) of the answer. A read-back's `order` places
   * it after the snapshot stored before it, which may be later than this.
   */
  read_at?: number;
}

export interface EfwSnap extends Ordered {
  id: string;
  fraud_type: string;
  actionable: boolean;
  created: number;
}

export interface ReviewSnap extends Ordered {
  id: string;
  open: boolean;
  reason: string;
  opened_reason: string | null;
  closed_reason: string | null;
  created: number;
}
