/** The retries domain's face: what the rest of the service may use of it. */
export { authorizationView, createRetryService, retryView } from "./service.ts";
export type { AuthorizationView, RetryView } from "./service.ts";
export type { RetryResult, RetryService, RetryServices } from "./service.ts";
export { AUTHORIZATION_RECONCILE_JOB } from "./authorizations.ts";
export { CANCELLATION_REASONS } from "../../domain/authorization.ts";
export { AUTHORIZATION_ACTION_STATUSES } from "../../kv/authorizations.ts";
export type { CreateRetryInput } from "./attempt_record.ts";
export { RETRY_RECONCILE_JOB } from "./in_flight.ts";
export type { RetryHooks } from "./confirm.ts";
export { createPaymentSettlement } from "./settlement.ts";
export type { AnswerDetails } from "./settlement.ts";
export type { OpenFraudAlerts } from "./fraud_alerts.ts";
export type { SavedPaymentMethodView } from "./payment_methods.ts";
export { RETRY_STATUSES } from "../../domain/retry.ts";
