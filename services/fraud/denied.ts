/**
 * A refused fraud action (409: a transition the alert does not allow, a
 * refund of an alert resolved legitimate, a snooze over a cap, a sweep while
 * another runs) is an audit entry `denied` by whoever asked, recorded before
 * the refusal is answered (README: the audit log records every action,
 * denied ones too).
 */
import type { AuditInput, AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";

export async function auditRefusal<T>(
  audit: AuditService,
  ctx: CallContext,
  entry: Omit<AuditInput, "result" | "reason">,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof AppError && e.code === "conflict") {
      await audit.record(ctx, { ...entry, result: "denied", reason: e.message });
    }
    throw e;
  }
}
