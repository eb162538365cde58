/** A new retry attempt as first recorded: `processing`, nothing known from Stripe yet. */
import type { CardSummary, RetryRecord } from "../../kv/retries.ts";
import type { Retryable } from "./retryable.ts";

export interface CreateRetryInput {
  transaction_id: string;
  payment_method: string;
  note?: string;
  off_session?: boolean;
  confirm_fraud_alert?: boolean;
}

/**
 * The payment method to confirm with; `attach`: it is saved on the customer
 * after the commit; `entered_at`: when its details were entered (domain/retry.ts
 * `cardEnteredAt`).
 */
export interface RetryPaymentMethod {
  id: string;
  card: CardSummary | null;
  attach: boolean;
  entered_at: number | null;
}

/** A new attempt, `processing`, nothing known from Stripe yet. */
export function newRetryRecord(
  id: string,
  input: CreateRetryInput,
  ok: Retryable,
  pm: RetryPaymentMethod,
  meta: { by: string; at: string; job: RetryRecord["job"] },
): RetryRecord {
  return {
    id,
    transaction_id: ok.txn.id,
    customer: ok.customer,
    stripe_payment_intent: ok.pi,
    payment_method: pm.id,
    requested_payment_method: input.payment_method,
    card: pm.card,
    off_session: input.off_session !== false,
    note: input.note?.trim() || null,
    confirm_fraud_alert: input.confirm_fraud_alert === true,
    status: "processing",
    stripe_status: null,
    failure_code: null,
    decline_code: null,
    advice_code: null,
    failure_message: null,
    next_action: null,
    client_secret: null,
    stripe_charge: null,
    stripe_request_id: null,
    stripe_idempotency_key: `retry:${id}`,
    card_use: pm.card?.fingerprint ?? null,
    attach: pm.attach ? { idempotency_key: `retry-attach:${id}`, status: "pending" } : null,
    prior: {
      latest_charge: ok.sync.pi?.latest_charge ?? null,
      error_charge: ok.sync.pi?.error?.charge ?? null,
    },
    requested_by: meta.by,
    settled_by: null,
    job: meta.job,
    created_at: meta.at,
    updated_at: meta.at,
    settled_at: null,
  };
}
