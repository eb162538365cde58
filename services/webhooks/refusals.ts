/**
 * A person's refused webhook action (a replay, a dismissal) is audited
 * `denied` with what they were told (README, "Stripe webhooks"); a 404 or an
 * answer to a second click is not a refusal and writes nothing.
 */
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";

const refusals = new WeakSet<AppError>();

/** Marks `error` as a refusal to audit on its way out of `auditingRefusals`. */
export function refused(error: AppError): AppError {
  refusals.add(error);
  return error;
}

/** Runs `act`; a refusal it throws (`refused`) is audited `denied` on event `id`, then thrown. */
export async function auditingRefusals<T>(
  audit: AuditService,
  ctx: CallContext,
  what: {
    action: "webhook.replay" | "webhook.dismiss";
    id: string;
    after?: Record<string, unknown>;
  },
  act: () => Promise<T>,
): Promise<T> {
  try {
    return await act();
  } catch (error) {
    if (error instanceof AppError && refusals.has(error)) {
      await audit.record(ctx, {
        action: what.action,
        target: { type: "webhook_event", id: what.id },
        result: "denied",
        after: { code: error.code, ...what.after },
        reason: error.message,
      });
    }
    throw error;
  }
}
