/**
 * Re-enabling a disabled account that can approve (operator, admin) is in
 * effect creating it again, so from the API it is a `user.reactivate`
 * request a second admin approves (README, "Two-person rules"). Approved, the
 * account comes back with none of its old credentials: its token and second
 * factor are revoked, and the approver hands the person an enrollment code for
 * new ones, as after a credential reset. The CLI (break-glass) re-enables
 * directly (users.ts `updateAdmin`).
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import type { ApprovalRequest } from "../approvals/mod.ts";
import { addUpdateAdmin } from "../../kv/admins.ts";
import type { AdminRecord } from "../../domain/admin.ts";
import { type IdentityDeps, loadAdmin } from "./accounts.ts";
import { addHandover, approvingRole, revokedToken } from "./enrollment.ts";

const target = (id: string) => ({ type: "admin", id });

/**
 * Whether setting `status` on `before` needs a second admin: judged by the
 * role the account has while disabled, never by a role sent with the change.
 */
export function reactivationNeedsApproval(
  ctx: CallContext,
  before: AdminRecord,
  status: AdminRecord["status"] | undefined,
): boolean {
  return ctx.actor.type === "admin" && status === "active" && before.status === "disabled" &&
    approvingRole(before.role);
}

/** `user.reactivate`: active again, old credentials revoked, an enrollment code handed over. */
export function executeReactivate(d: IdentityDeps) {
  return (_deps: unknown, request: ApprovalRequest, ctx: CallContext) => {
    const id = String(request.payload.admin_id);
    return d.audit.commit(ctx, async (op) => {
      const entry = await loadAdmin(d, id);
      const before = entry.value;
      if (before.status !== "disabled" || before.role !== request.payload.role) {
        throw new AppError(
          "conflict",
          `admin ${id} changed since the re-enabling was asked for (now ${before.role}, ` +
            `${before.status}); ask again`,
        );
      }
      const iso = new Date(d.clock.now()).toISOString();
      addUpdateAdmin(op, entry, {
        ...before,
        status: "active",
        ...await revokedToken(iso),
        updated_at: iso,
      });
      const handover = await addHandover(d, op, ctx, id, request, "reactivated", iso);
      return {
        value: { admin_id: id, status: "active", handover },
        audit: [{
          action: "user.enable",
          target: target(id),
          result: "ok",
          before: { status: before.status },
          after: { status: "active", approval_id: request.id, requested_by: request.requested_by },
          reason: "old token and second factor revoked; the person enrolls new ones with an " +
            "enrollment code",
        }],
      };
    });
  };
}
