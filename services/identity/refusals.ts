/**
 * Refused account actions are audited `denied` (README: the audit log records
 * every action, denied ones too), as the self-change refusals are
 * (users.ts `refuseSelf`, account_requests.ts): a request that already
 * waits, an email already taken or pending, a role change a disabled account
 * cannot take, a change that lost to another. A malformed body (422) or an
 * unknown id (404) decides nothing and is not recorded.
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError, type ErrorCode } from "../../core/errors.ts";
import type { IdentityDeps } from "./accounts.ts";

/** Refusals already written in the commit that decided them (the last-admin rule). */
const recorded = new WeakSet<AppError>();

/** Marks `error` as audited where it was decided, so `auditRefused` does not write it again. */
export function alreadyAudited(error: AppError): AppError {
  recorded.add(error);
  return error;
}

/**
 * Records `error` as a denied `action` on `target` when it is a refusal
 * (one of `codes`, `conflict` by default) not audited already; the caller
 * throws it on.
 */
export async function auditRefused(
  d: Pick<IdentityDeps, "audit">,
  ctx: CallContext,
  action: string,
  target:
    | { type: string; id: string }
    | ((error: AppError) => Promise<{ type: string; id: string }>),
  error: unknown,
  codes: ErrorCode[] = ["conflict"],
): Promise<void> {
  if (!(error instanceof AppError) || !codes.includes(error.code) || recorded.has(error)) return;
  recorded.add(error);
  await d.audit.record(ctx, {
    action,
    target: typeof target === "function" ? await target(error) : target,
    result: "denied",
    reason: error.message,
    ...(error.extra ? { after: { code: error.code, ...error.extra } } : {}),
  });
}
