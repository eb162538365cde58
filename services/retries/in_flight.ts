/**
 * An attempt in flight (README "Retrying failed payments"): its reconciliation
 * job and when it looks, how long the payment waits at the latest, and the 409
 * a retry of the same payment meets meanwhile, and the attempt as it stands for a
 * key's stored answer that showed it in flight.
 */
import { byWhom, type CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { getRetry } from "../../kv/retries.ts";
import { processingIn, type StoredResponse } from "../../kv/idempotency.ts";
import { retryConflict } from "./retryable.ts";
import { retryView } from "./views.ts";

export const RETRY_RECONCILE_JOB = "retry.reconcile";
/** reconciliation first looks after this long: beyond any Stripe call's timeout */
export const RETRY_RECONCILE_AFTER_MS = 60_000;
export const RETRY_RECONCILE_MAX_ATTEMPTS = 60;
/**
 * An attempt in flight is settled by its answer, else by reconciliation a minute after it
 * began (README "Retrying failed payments"): by this long at the latest, the job's minute and
 * a minute for the job runner to get to it.
 */
export const RETRY_SETTLED_WITHIN_MS = RETRY_RECONCILE_AFTER_MS + 60_000;

/**
 * `Retry-After` (seconds) of a refusal while attempt `createdAt` holds the payment: the time
 * left until reconciliation has looked at it; one still in flight after that waits on Stripe
 * and is looked at again, so a minute.
 */
export function inFlightRetryAfterS(createdAt: string | null, now: number): number {
  const left = createdAt === null ? 0 : Date.parse(createdAt) + RETRY_SETTLED_WITHIN_MS - now;
  return left > 0 ? Math.ceil(left / 1000) : RETRY_RECONCILE_AFTER_MS / 1000;
}

/**
 * 409 naming the attempt in flight, who sent it and when ("you" to whoever did), with
 * `Retry-After` until it is settled at the latest.
 */
export async function inFlight(
  kv: Deno.Kv,
  retryId: string,
  ctx: CallContext,
  now: number,
): Promise<AppError> {
  const first = (await getRetry(kv, retryId)).value;
  const who = first ? `, sent ${byWhom(first.requested_by, first.created_at, ctx)}` : "";
  return retryConflict(
    new AppError(
      "conflict",
      `retry ${retryId} of this payment${who} is still in flight; wait for its outcome ` +
        `(GET /api/admin/payments/retries/${retryId})`,
      {
        extra: { retry_id: retryId },
        retryAfter: inFlightRetryAfterS(first?.created_at ?? null, now),
      },
    ),
  );
}

/**
 * A key's stored answer sent again: while it shows the attempt `processing` (Stripe's outcome
 * was unknown when it was given), the attempt as it stands now (what GET answers), the key's
 * answer once settled (README "A first session", honoured on retries as on refunds).
 */
export async function attemptInProgress(kv: Deno.Kv, stored: StoredResponse) {
  const id = processingIn(stored);
  const r = id === null ? null : (await getRetry(kv, id)).value;
  return r ? { body: retryView(r), settled: r.status !== "processing" } : null;
}
