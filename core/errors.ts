/**
 * The one error family. Services throw `AppError`; the single `onError` in
 * app.ts turns it into `application/problem+json` (RFC 9457).
 */

/**
 * Every problem code: its HTTP status, a title, what happened and what to do.
 * `/problems/{code}` renders the last two as the page the problem's `type` points at.
 */
export interface ErrorCodeInfo {
  status: number;
  title: string;
  /** what happened, in the operator's words */
  what?: string;
  /** what to do about it */
  todo?: string;
}

export const ERROR_CODES = {
  unauthenticated: {
    status: 401,
    title: "Authentication required",
    what:
      "The request carries no API token, or one this service does not know (rotated, revoked, expired or never issued), or the account is disabled.",
    todo:
      "Send `Authorization: Bearer <token>` with a current token. An admin gets one from `deno task admin create` or `rotate-token`; a new account from `POST /api/admin/enroll`. A scraper of `GET /metrics` sends the server's `METRICS_TOKEN` instead.",
  },
  forbidden: {
    status: 403,
    title: "Forbidden",
    what: "Your role does not include the permission this operation needs.",
    todo:
      "Check your role with `GET /api/admin/me`; ask an admin for a role that has it. The operation's page in /docs lists the roles.",
  },
  otp_required: {
    status: 401,
    title: "Second factor required",
    what: "This operation moves money or cannot be undone: it needs a fresh second factor.",
    todo:
      "Send `X-OTP-Code: <6 digits>` from your authenticator app, or `X-Step-Up: <token>` from `POST /api/admin/step-up`. Without your device, one of your recovery codes (`abcd-2345`, each works once) goes in `X-OTP-Code` instead.",
  },
  otp_invalid: {
    status: 401,
    title: "Second factor code invalid",
    what:
      "The code in `X-OTP-Code` (or `code` of `POST /api/admin/step-up`) was wrong: not the current TOTP code, nor an unused recovery code, or in neither's format.",
    todo:
      "Check the clock of the device with the authenticator and send the current code; `tries_left` says how many wrong codes lock the second factor for 15 minutes. Without your device, send one of your recovery codes instead.",
  },
  otp_replayed: {
    status: 401,
    title: "Second factor code already used",
    what: "Each TOTP code is accepted once per admin; this one was used already.",
    todo: "Wait for the next code (30 s), or take a step-up token for a run of operations.",
  },
  otp_locked: {
    status: 429,
    title: "Second factor locked",
    what: "Too many wrong codes: the second factor is locked for a while.",
    todo:
      "Wait for the time in `Retry-After`: until then every code is refused, recovery codes too. If you lost the authenticator, use a recovery code once the lock ends (in `X-OTP-Code`, or for a step-up token) and have your second factor reset (`POST /api/admin/users/{id}/reset-2fa`, approved by another admin; or `deno task admin reset-2fa --id` by whoever holds the KV).",
  },
  step_up_expired: {
    status: 401,
    title: "Step-up token expired or invalid",
    what:
      "The `X-Step-Up` token is expired, belongs to another admin or token, or was never issued.",
    todo:
      "Take a new one with `POST /api/admin/step-up` and a TOTP code; it lasts `STEP_UP_TTL_S` seconds.",
  },
  validation_failed: {
    status: 422,
    title: "Validation failed",
    what:
      "Part of the request is missing or invalid; `errors[]` names each field and what it must be.",
    todo:
      "Fix the fields listed in `errors[]` and send the request again. /docs shows each field with a valid example.",
  },
  not_found: {
    status: 404,
    title: "Not found",
    what: "Nothing with that id exists here (or the path is not a route).",
    todo:
      "Check the id: list the resource (for example `GET /api/admin/payments/refunds`) to find it. Payments appear once Stripe's webhooks have reported them.",
  },
  method_not_allowed: {
    status: 405,
    title: "Method not allowed",
    what:
      "The path exists, but not with this method. On the admin surface a token is checked first.",
    todo: "Send one of the methods in the `Allow` header; /docs shows what each one does.",
  },
  conflict: {
    status: 409,
    title: "Conflict",
    what:
      "Someone else changed the same record at the same moment, or it is in a state that does not allow this.",
    todo: "Read the record again and decide whether the operation still makes sense; then retry.",
  },
  precondition_failed: {
    status: 412,
    title: "Precondition failed",
    what:
      "The request said which version it changes (`If-Match`, or `If-None-Match: *` for one that must not exist yet) and the record is no longer that version: someone changed it since you read it. Nothing was written; the problem document names who changed it and when.",
    todo:
      "Read the record again (a fraud alert's tag is the `ETag` of `GET /fraud/alerts/{id}`; the evidence draft's is the dispute's `draft.hash` in quotes), merge your change into what is there now, and send it with `If-Match` naming the new tag.",
  },
  idempotency_key_reused: {
    status: 422,
    title: "Idempotency key reused with a different request",
    what: "This `Idempotency-Key` was used before with a different body.",
    todo:
      "Use a new key for a new request; send the same key only with the exact same body to get the first answer again.",
  },
  duplicate_suspected: {
    status: 409,
    title: "Duplicate suspected",
    what: "A refund of the same payment and amount was made recently: this may be a double click.",
    todo:
      "Check the payment's refunds. If a second refund is intended, send the request again with `confirm_duplicate: true`.",
  },
  amount_exceeds_refundable: {
    status: 422,
    title: "Amount exceeds what is refundable",
    what:
      "The amount is more than what is left on the payment after refunds settled, in flight and awaiting approval.",
    todo:
      "Send an amount up to `refundable` (in the problem document), or omit `amount` to refund everything that is left.",
  },
  self_approval_forbidden: {
    status: 403,
    title: "Self-approval forbidden",
    what:
      "The person who asked for an operation, or the account it acts on (or an account linked to either), may not approve it, nor reject it; a requester may still withdraw (reject) their own request, but not a refund, which someone else decides. Nor may anyone close an ops alert about their own account, about what they did, or about an account linked to theirs (`rule` says which).",
    todo:
      "Ask another operator or admin, not linked to those accounts, to approve, reject or close it. A refund nobody decides expires unanswered at its deadline (`approval.expires_at`), its reservation released.",
  },
  rate_limited: {
    status: 429,
    title: "Too many requests",
    what:
      "A per-minute limit was reached: this token's requests (API_RATE_LIMIT_PER_MIN), your step-ups (STEP_UP_RATE_LIMIT_PER_MIN, whichever token), or failed authentications from your address (30 a minute, a wrong token or enrollment code each; past that every request from the address is refused until the minute ends, a right token included).",
    todo:
      "Wait for the seconds in `Retry-After`, then go on; spread batch work out over time. If your address is locked out, find the script or colleague sending a wrong token from it.",
  },
  payload_too_large: {
    status: 413,
    title: "Payload too large",
    what: "The request body is larger than this route accepts.",
    todo: "Send a smaller body; the route's description in /docs states its limit.",
  },
  signature_invalid: {
    status: 400,
    title: "Webhook signature invalid",
    what:
      "The `Stripe-Signature` header does not verify with any configured webhook secret, or its timestamp is too old.",
    todo:
      "Set `STRIPE_WEBHOOK_SECRETS` to the endpoint's signing secret (`whsec_…` in Stripe's Dashboard); during a rotation list both, comma-separated.",
  },
  stripe_error: {
    status: 502,
    title: "Stripe refused the request",
    what:
      "Stripe answered with an error; its `type`, `code`, `decline_code` and `advice_code` are in the problem document.",
    todo:
      "The detail says what to do. A decline needs another payment method or the customer; any other refusal usually means the object changed at Stripe since this service read it: read it again (a dispute: `POST /api/admin/payments/disputes/sync`) before sending again. `stripe.request_id` finds the request in the Stripe Dashboard's logs.",
  },
  stripe_unavailable: {
    status: 503,
    title: "Stripe unavailable",
    what:
      "Stripe could not be reached or timed out. If money may have moved, the operation stays `processing` and reconciliation finishes it.",
    todo:
      "Try again later with the same `Idempotency-Key`; nothing moves twice. Check the operation's status before acting again.",
  },
  unavailable: {
    status: 503,
    title: "Service unavailable",
    what: "The service cannot serve this now (its store is unreachable or it is stopping).",
    todo: "Try again shortly; if it persists, run `deno task doctor` on the server.",
  },
  verify_busy: {
    status: 503,
    title: "Audit verify busy",
    what:
      "Another audit-log verify is walking the chain in this service (one walk at a time, so a burst of checks does not slow every other request), and it did not end within a few seconds; nothing was checked. The same verify asked for while one waits to start shares its answer.",
    todo:
      "Send the request again after the seconds in `Retry-After`; space out scheduled checks (a `full=true` or `expect_seq` walk reads the whole log) rather than sending many at once.",
  },
  internal: {
    status: 500,
    title: "Internal error",
    what: "Something unexpected failed. It was logged with this request's id.",
    todo: "Try again; if it repeats, report the `request_id` to whoever runs the service.",
  },
  retry_refused: {
    status: 422,
    title: "Retry refused",
    what:
      "The retry policy refused this payment retry; the problem document gives its reason (attempts used, card limit, a decline that must not be retried).",
    todo: "Follow the reason: wait, ask the customer for another payment method, or stop retrying.",
  },
  unsupported_media_type: {
    status: 415,
    title: "Unsupported media type",
    what: "The request body's `Content-Type` is not one this route reads.",
    todo: "Send `Content-Type: application/json` (or `multipart/form-data` for file uploads).",
  },
  charge_not_refundable: {
    status: 409,
    title: "Charge not refundable",
    what: "Stripe says the charge cannot be refunded now, or not by that much: it is disputed, " +
      "or refunded already, all or in part (`stripe.code` says which when Stripe refused; the " +
      "refund is then recorded failed and no money moved).",
    todo:
      "Handle the dispute instead (`GET /api/admin/payments/disputes`); for a charge refunded already (in the " +
      "Dashboard, say), its refund arrives by webhook and shows on the transaction: ask again " +
      "for at most what is left (`refundable_at_stripe` when Stripe said).",
  },
  payment_method_not_allowed: {
    status: 422,
    title: "Payment method not allowed",
    what: "The payment method is attached to another customer.",
    todo:
      "Use one of the customer's own payment methods (`GET /api/admin/payments/customers/{id}/payment-methods`).",
  },
  enrollment_invalid: {
    status: 401,
    title: "Enrollment code invalid",
    what:
      "The enrollment code is unknown (check it was copied whole), expired (codes last 24 h), revoked (its issuer or account was disabled) or redeemed already (the detail and `redeemed_at` say when; its credentials were shown once, in the answer that redeemed it).",
    todo:
      "Ask an admin for a new code; each code works once. A code redeemed by someone other than you is worth raising at once.",
  },
  configuration_error: {
    status: 503,
    title: "Configuration error",
    what:
      "The service's configuration cannot serve this (for example a sealed secret the configured keys cannot open).",
    todo: "The detail names the setting to fix; `deno task doctor` checks them all.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

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
  return new AppError("not_found", `no ${what} ${id}`);
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
  "verify_busy",
];

export function isTryAgain(error: AppError): boolean {
  return TRY_AGAIN_CODES.includes(error.code);
}
