/**
 * What a failed Stripe call means for us: the problem the client sees
 * (`stripe_error` 502 when Stripe refused, `stripe_unavailable` 503 when it
 * could not answer), whether retrying is worth it, and whether Stripe may have
 * acted anyway (`stripeOutcome`), which decides if money-moving services may
 * release a reservation or must leave the operation to reconciliation.
 */
import Stripe from "stripe";
import { AppError } from "../../core/errors.ts";
import { maskString } from "../../core/log.ts";

export type StripeOutcome = "definite" | "unknown";

/** Stripe's own description of an error, as carried in the problem document under `stripe`. */
export interface StripeErrorInfo {
  type: string | null;
  code: string | null;
  decline_code: string | null;
  advice_code: string | null;
  param: string | null;
  message: string | null;
  request_id: string | null;
  http_status: number | null;
}

/** Errors that never reached Stripe (the budget could not be read): nothing happened there. */
const notSent = new WeakSet<object>();

export function markNotSent<E extends object>(error: E): E {
  notSent.add(error);
  return error;
}

export function isStripeError(error: unknown): error is Stripe.errors.StripeError {
  return error instanceof Stripe.errors.StripeError;
}

function header(error: Stripe.errors.StripeError, name: string): string | undefined {
  const value = error.headers?.[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * Rejections Stripe asks us to repeat later: rate limits and `lock_timeout`
 * (429), and a concurrent request holding the same idempotency key (409).
 * Stripe did not act on any of them.
 */
export function isRetryableStripeError(error: Stripe.errors.StripeError): boolean {
  if (header(error, "stripe-should-retry") === "false") return false;
  const status = error.statusCode;
  return status === 429 || error.code === "rate_limit" || error.code === "lock_timeout" ||
    (status === 409 && error.rawType === "idempotency_error");
}

/** Seconds Stripe asked us to wait (`Retry-After`), when it said. */
export function stripeRetryAfterS(error: Stripe.errors.StripeError): number | undefined {
  const raw = header(error, "retry-after");
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/**
 * `definite`: Stripe answered and we know what it did (a 4xx refusal, a decline,
 * a rate limit). `unknown`: it may have acted without telling us (connection
 * dropped, timeout, 5xx, a concurrent request on the same key), so only a
 * retry with the same idempotency key or a lookup can tell.
 * Accepts the SDK's error or the `AppError` the gateway made of it; anything
 * else counts as `unknown`, the safe answer for money.
 */
export function stripeOutcome(error: unknown): StripeOutcome {
  if (error && typeof error === "object" && notSent.has(error)) return "definite";
  if (isStripeError(error)) {
    if (error instanceof Stripe.errors.StripeConnectionError) return "unknown";
    const status = error.statusCode;
    if (status === undefined || status >= 500 || status === 409) return "unknown";
    return status >= 400 ? "definite" : "unknown";
  }
  if (error instanceof AppError) {
    if (error.cause !== undefined && error.cause !== null) {
      if (isStripeError(error.cause) || notSent.has(error.cause as object)) {
        return stripeOutcome(error.cause);
      }
    }
    return error.code === "stripe_error" ? "definite" : "unknown";
  }
  return "unknown";
}

export function stripeErrorInfo(error: Stripe.errors.StripeError): StripeErrorInfo {
  return {
    type: error.rawType ?? null,
    code: error.code ?? null,
    decline_code: error.decline_code || null,
    advice_code: error.advice_code ?? null,
    param: error.param ?? null,
    message: error.message ? maskString(error.message) : null,
    request_id: error.requestId ?? null,
    http_status: error.statusCode ?? null,
  };
}

/** Stripe's own words for a refusal, without what to do (`Stripe refused the request: …`). */
export function stripeRefusal(stripe: Pick<StripeErrorInfo, "message" | "type">): string {
  return `Stripe refused the request: ${stripe.message ?? stripe.type ?? "no reason given"}`;
}

export interface MapOptions {
  /** attempts made, for the detail of an exhausted retry */
  attempts?: number;
  /** the client's request timeout, for the detail of a timeout */
  timeoutMs?: number;
  /** every request of the call was a read (GET): nothing can have changed at Stripe */
  readOnly?: boolean;
  /**
   * how to read the object again when Stripe refuses (`pull it again with POST …/sync`), for
   * the detail's fix; by default, the Stripe Dashboard
   */
  refresh?: string;
  /** what the caller may send again after a write's lost answer (`StripeCallOptions.again`) */
  again?: string;
}

/**
 * What to do about a refusal, one sentence (README, "API": a problem says what happened and
 * what to do): a decline needs the customer; anything else usually means the object changed at
 * Stripe since this service read it. Stripe's request id finds the request in its logs.
 */
function refusalFix(stripe: StripeErrorInfo, refresh?: string): string {
  const request = stripe.request_id
    ? `; Stripe's request id ${stripe.request_id} finds it in the Dashboard's logs`
    : "";
  if (stripe.type === "card_error") {
    return "The card was refused: ask the customer for another payment method or to call " +
      `their bank (\`stripe.decline_code\`, \`stripe.advice_code\` say why)${request}.`;
  }
  return "It may have changed at Stripe since this service read it: " +
    `${refresh ?? "look it up in the Stripe Dashboard"} before sending it again${request}.`;
}

/** The problem the client sees for a Stripe failure; the SDK error stays as `cause`. */
export function stripeErrorToAppError(
  error: Stripe.errors.StripeError,
  options: MapOptions = {},
): AppError {
  const stripe = stripeErrorInfo(error);
  const extra = { stripe };
  const outcome = stripeOutcome(error);
  if (outcome === "unknown") {
    const why = error instanceof Stripe.errors.StripeConnectionError
      ? (/timeout/i.test(error.message)
        ? `Stripe did not answer within ${options.timeoutMs ?? "the"} ms`
        : "the connection to Stripe failed")
      : `Stripe answered ${stripe.http_status ?? "without a status"} (${
        stripe.message ?? "no message"
      })`;
    // A write this service tracks stays `processing` and is finished by reconciliation; what the
    // caller may do again (the same Idempotency-Key, a new read) is said by the route's own answer.
    const what = options.readOnly
      ? "; it was a read: nothing changed at Stripe. Try again shortly"
      : "; Stripe may or may not have acted on it. Try again shortly: " +
        (options.again ?? "a request sent with the same Idempotency-Key is answered once, " +
            "never carried out twice");
    return new AppError(
      "stripe_unavailable",
      `${why}${what}`,
      { extra, cause: error, retryAfter: Math.ceil(stripeRetryAfterS(error) ?? 2) },
    );
  }
  if (isRetryableStripeError(error)) {
    const tries = options.attempts ? ` after ${options.attempts} attempts` : "";
    // README "Stripe outages": a read the action needs first says so, whatever Stripe answered
    const read = options.readOnly ? "; it was a read: nothing changed at Stripe" : "";
    return new AppError(
      "stripe_unavailable",
      `Stripe is refusing requests for now (${
        stripe.code ?? "rate limited"
      })${tries}${read}; try again shortly`,
      { extra, cause: error, retryAfter: Math.ceil(stripeRetryAfterS(error) ?? 1) },
    );
  }
  const said = stripeRefusal(stripe);
  return new AppError(
    "stripe_error",
    `${said}${/[.!?]$/.test(said) ? "" : "."} ${refusalFix(stripe, options.refresh)}`,
    { extra, cause: error },
  );
}
