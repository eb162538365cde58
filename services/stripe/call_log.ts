/**
 * What the gateway says about each attempt of a call: one log line (a
 * routine call quietly; an id Stripe does not know at info) and, with metrics, its requests by
 * label and status,
 * the budget waits and Stripe's requests to slow down.
 */
import type { Metrics } from "../../core/metrics.ts";
import type { Logger } from "../../core/log.ts";
import { isStripeError } from "./errors.ts";
import type { CallScope, StripePriority } from "./http_client.ts";

export interface StripeCallOptions {
  /** `interactive` (an admin is waiting; default) may use the whole budget; `background` leaves a reserve */
  priority?: StripePriority;
  /** what the call does, for the logs (`refunds.create`) */
  label?: string;
  /** a routine call among many (demo seeding): logged at debug when it succeeds */
  quiet?: boolean;
  /** how to read the object again, for the fix a refusal's detail names (disputes: their sync) */
  refresh?: string;
  /**
   * what the caller may send again when Stripe's answer to a write is lost, for the detail of
   * that `503`; by default the same `Idempotency-Key` (README "Inputs and headers"), which a
   * route without one replaces with its own second-click rule
   */
  again?: string;
}

export type CallLog = (
  scope: CallScope,
  opts: StripeCallOptions,
  attempt: number,
  error?: unknown,
) => void;

/**
 * Stripe does not know the object asked for: a 404 `invalid_request_error` (a mistyped id,
 * `resource_missing`). That is no trouble at Stripe, so it is not the `stripe call failed`
 * warning operators watch in an outage (README, "Stripe outages"). 5xx, 429, timeouts, lost
 * connections and the other refusals still are: a 400 is a request this service should not have
 * sent (a check it lacks), worth a look.
 */
function refusedAsAsked(error: unknown): boolean {
  return isStripeError(error) && error.statusCode === 404 &&
    (error.rawType ?? error.type) === "invalid_request_error";
}

/** The reasons `payops_stripe_rate_limited_total` counts: Stripe's two codes of a 429. */
const THROTTLE_REASONS = ["rate_limit", "lock_timeout"] as const;

/** A code of Stripe's other than `lock_timeout` (or none) on a 429 is a rate limit: no new series. */
function throttleReason(code: string | undefined): (typeof THROTTLE_REASONS)[number] {
  return code === "lock_timeout" ? "lock_timeout" : "rate_limit";
}

export function createCallLog(log: Logger, metrics?: Metrics): CallLog {
  const calls = metrics?.counter(
    "payops_stripe_requests_total",
    "Stripe API requests by call label and HTTP status",
  );
  const waits = metrics?.histogram(
    "payops_stripe_budget_wait_seconds",
    "Time a Stripe call waited for a token of the shared budget, by priority",
  );
  const throttled = metrics?.counter(
    "payops_stripe_rate_limited_total",
    "Stripe answers that asked to slow down, by reason (rate_limit, lock_timeout)",
  );
  // every reason is a series from the start (0), so the first 429 is seen (README, "Metrics")
  for (const reason of THROTTLE_REASONS) throttled?.inc({ reason }, 0);

  function countAttempt(scope: CallScope, opts: StripeCallOptions, error?: unknown) {
    const label = opts.label ?? "unlabelled";
    // A call that failed with no HTTP status (a timeout, an answer dropped mid-body after its
    // status line came) got no answer: its last request counts as `none`, as the log says.
    const noAnswer = isStripeError(error) && !error.statusCode;
    const last = scope.requests.at(-1);
    for (const r of scope.requests) {
      const status = noAnswer && r === last ? null : r.status;
      calls!.inc({ label, status: String(status ?? "none") });
      waits!.observe({ priority: scope.priority }, r.waited_ms / 1000);
    }
    if (isStripeError(error) && (error.statusCode === 429 || error.code === "lock_timeout")) {
      throttled!.inc({ reason: throttleReason(error.code) });
    }
  }

  function logAttempt(scope: CallScope, opts: StripeCallOptions, attempt: number, error?: unknown) {
    if (calls) countAttempt(scope, opts, error);
    const last = scope.requests.at(-1);
    const fields = {
      label: opts.label ?? null,
      priority: scope.priority,
      attempt,
      requests: scope.requests.length,
      method: last?.method ?? null,
      path: last?.path ?? null,
      status: isStripeError(error) ? error.statusCode ?? null : last?.status ?? null,
      ms: last?.ms ?? null,
      waited_ms: scope.requests.reduce((n, r) => n + r.waited_ms, 0),
      // Stripe's id for the request (as audit entries name it); `request_id` is ours
      stripe_request_id: (isStripeError(error) ? error.requestId : undefined) ??
        last?.request_id ?? null,
      idempotency_key: last?.idempotency_key ?? null,
    };
    if (error === undefined) (opts.quiet ? log.debug : log.info)("stripe call", fields);
    else {
      const e = isStripeError(error)
        ? { type: error.rawType ?? error.type, code: error.code ?? null, message: error.message }
        : { message: error instanceof Error ? error.message : String(error) };
      // a routine call's decline (demo seeding declines on purpose) is no news
      const routine = opts.quiet && isStripeError(error) && error.statusCode === 402;
      if (routine) log.debug("stripe call failed", { ...fields, error: e });
      else if (refusedAsAsked(error)) {
        log.info("stripe refused the request", { ...fields, error: e });
      } else log.warn("stripe call failed", { ...fields, error: e });
    }
  }

  return logAttempt;
}
