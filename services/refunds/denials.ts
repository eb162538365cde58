/**
 * Refused refund requests are audited `denied` (README, "A first session":
 * the audit log records every action, denied ones too). Only refusals that
 * are decisions about money: more than is refundable, a charge Stripe would
 * not refund (an open chargeback), a payment that is not refundable, a
 * suspected duplicate, an Idempotency-Key reused with another body, a decision
 * on a refund already decided or expired. A malformed body (422
 * `validation_failed`) or an unknown id (404) decides nothing and is not
 * recorded, so a burst of typos does not hold up the audit chain.
 */
import { AppError, type ErrorCode } from "../../core/errors.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { AuditService } from "../audit/mod.ts";
import { getRefund } from "../../kv/refunds.ts";
import { type IdempotencyScope, idempotentResourceOf } from "../../kv/idempotency.ts";
import { loadTransaction } from "./request_parts.ts";

const MONEY_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "amount_exceeds_refundable",
  "charge_not_refundable",
  "duplicate_suspected",
  "idempotency_key_reused",
]);

/**
 * The refusal to audit, or null: one of the codes above, or a 409 about the
 * payment's or the refund's state. A refusal that names a refund it recorded
 * (`refund_id`: Stripe refused a refund already sent) is audited where it was
 * recorded (`refund.failed`), not again here.
 */
export function moneyRefusal(error: unknown, except: ErrorCode[] = []): AppError | null {
  if (!(error instanceof AppError) || error.extra?.refund_id) return null;
  if (except.includes(error.code)) return null;
  if (MONEY_REFUSALS.has(error.code)) return error;
  const about = error.extra ?? {};
  const stateful = "refund_status" in about || "transaction_status" in about ||
    "dispute_status" in about;
  return error.code === "conflict" && stateful ? error : null;
}

/**
 * Records `error` as a denied `action` on `target` when it is a refusal to
 * audit (`moneyRefusal`; `except`: codes recorded elsewhere).
 */
export async function auditIfRefused(
  audit: AuditService,
  ctx: CallContext,
  action: string,
  target: { type: string; id: string },
  error: unknown,
  options: { after?: Record<string, unknown>; except?: ErrorCode[] } = {},
): Promise<void> {
  const refusal = moneyRefusal(error, options.except);
  if (!refusal) return;
  await audit.record(ctx, {
    action,
    target,
    result: "denied",
    reason: `${refusal.code}: ${refusal.message}`,
    after: { ...options.after, code: refusal.code, ...refusal.extra },
  });
}

/**
 * The currency of a refused request's amount, so its denied entry can be read (README,
 * "Refund approval policy"): the payment's the body names (a `pi_…`, `ch_…` or merged stub's
 * id answers as the payment); for an Idempotency-Key reused with a body naming no known
 * payment, the payment's of the refund the key's first request made; else what the body sent.
 */
export async function refusalCurrency(
  kv: Deno.Kv,
  input: { transaction_id: string; currency?: string },
  scope: IdempotencyScope | null,
): Promise<string | null> {
  const txn = await loadTransaction(kv, input.transaction_id).catch(() => null);
  if (txn?.value.currency) return txn.value.currency;
  const first = await idempotentResourceOf(kv, scope);
  const refund = first ? (await getRefund(kv, first)).value : null;
  return refund?.currency ?? input.currency?.toLowerCase() ?? null;
}
