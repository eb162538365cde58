/** Retry attempts and authorization actions as the API shows them. */
import { nextStepOf } from "../../domain/retry_next_step.ts";
import type { AuthorizationAction } from "../../kv/authorizations.ts";
import type { RetryRecord } from "../../kv/retries.ts";

/** A capture or cancel as the API shows it. */
export function authorizationView(a: AuthorizationAction) {
  const { job: _job, ...shown } = a;
  return shown;
}
export type AuthorizationView = ReturnType<typeof authorizationView>;

/** A retry attempt as the API shows it (internals such as the job left out). */
export function retryView(r: RetryRecord) {
  return {
    id: r.id,
    transaction_id: r.transaction_id,
    customer: r.customer,
    stripe_payment_intent: r.stripe_payment_intent,
    payment_method: r.payment_method,
    requested_payment_method: r.requested_payment_method,
    card: r.card,
    off_session: r.off_session,
    note: r.note,
    confirm_fraud_alert: r.confirm_fraud_alert,
    status: r.status,
    stripe_status: r.stripe_status,
    failure_code: r.failure_code,
    decline_code: r.decline_code,
    advice_code: r.advice_code,
    failure_message: r.failure_message,
    next_step: nextStepOf(r),
    next_action: r.next_action,
    client_secret: r.client_secret,
    stripe_charge: r.stripe_charge,
    stripe_request_id: r.stripe_request_id,
    requested_by: r.requested_by,
    settled_by: r.settled_by,
    created_at: r.created_at,
    updated_at: r.updated_at,
    settled_at: r.settled_at,
  };
}
export type RetryView = ReturnType<typeof retryView>;
