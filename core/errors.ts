/**
 * The one error family. Services throw `AppError`; the single `onError` in
 * app.ts turns it into `application/problem+json` (RFC 9457).
 */

export const ERROR_CODES = {
  unauthenticated: { status: 401, title: "Authentication required" },
  forbidden: { status: 403, title: "Forbidden" },
  otp_required: { status: 401, title: "Second factor required" },
  otp_invalid: { status: 401, title: "Second factor code invalid" },
  otp_replayed: { status: 401, title: "Second factor code already used" },
  otp_locked: { status: 429, title: "Second factor locked" },
  step_up_expired: { status: 401, title: "Step-up token expired or invalid" },
  validation_failed: { status: 422, title: "Validation failed" },
  not_found: { status: 404, title: "Not found" },
  conflict: { status: 409, title: "Conflict" },
  idempotency_key_reused: { status: 422, title: "Idempotency key reused with a different request" },
  duplicate_suspected: { status: 409, title: "Duplicate suspected" },
  amount_exceeds_refundable: { status: 422, title: "Amount exceeds what is refundable" },
  self_approval_forbidden: { status: 403, title: "Self-approval forbidden" },
  rate_limited: { status: 429, title: "Too many requests" },
  payload_too_large: { status: 413, title: "Payload too large" },
  signature_invalid: { status: 400, title: "Webhook signature invalid" },
  stripe_error: { status: 502, title: "Stripe refused the request" },
  stripe_unavailable: { status: 503, title: "Stripe unavailable" },
  unavailable: { status: 503, title: "Service unavailable" },
  internal: { status: 500, title: "Internal error" },
  charge_not_refundable: { status: 409, title: "Stripe says the charge cannot be refunded" },
  enrollment_invalid: { status: 401, title: "Enrollment code invalid" },
  configuration_error: { status: 503, title: "Configuration error" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One invalid field: `path` is dotted (`body.amount`, `query.limit`, `header.x-otp-code`). */
export interface FieldError {
  path: string;
  message: string;
}

export interface AppErrorOptions {
  errors?: FieldError[];
  /** seconds, sent as `Retry-After` */
  retryAfter?: number;
  /** extra members of the problem document (Stripe's type/code/decline_code/advice_code, remaining amount, ...) */
  extra?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  override name = "AppError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors?: FieldError[];
  readonly retryAfter?: number;
  readonly extra?: Record<string, unknown>;

  constructor(code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.errors = options.errors;
    this.retryAfter = options.retryAfter;
    this.extra = options.extra;
  }
}

export function notFound(what: string, id: string): AppError {
  return new AppError("not_found", `${what} ${id} does not exist`);
}

export function validationFailed(errors: FieldError[]): AppError {
  const detail = errors.map((e) => `${e.path}: ${e.message}`).join("; ");
  return new AppError("validation_failed", detail || "the request is invalid", { errors });
}

/**
 * Answers that say "try again later" (429, 503): the request did not run to
 * an answer about the operation, so nothing is kept for it (an
 * `Idempotency-Key` may be sent again and proceeds, as Stripe does).
 */
export const TRY_AGAIN_CODES: readonly ErrorCode[] = [
  "rate_limited",
  "stripe_unavailable",
  "unavailable",
];

export function isTryAgain(error: AppError): boolean {
  return TRY_AGAIN_CODES.includes(error.code);
}
