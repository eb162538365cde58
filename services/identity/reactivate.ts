/**
 * Re-enabling a disabled account hands a code for new credentials to whoever
 * re-enables it (its old token and second factor stay revoked). From the API
 * that is a `user.reactivate` request a third person approves (README,
 * "Two-person rules") whenever handing that code to the re-enabling admin alone
 * would give them someone's account: an account that can approve (operator,
 * admin), one whose person enrolled (any role), and one whose code the admin
 * never held. Only an account nobody enrolled yet, re-enabled by an admin who
 * already held its code (its creator), comes back at once: the code is again
 * for the new person, as on creation. Approved, the approver hands over the
 * code, as after a credential reset. The CLI (break-glass) re-enables directly
 * (users.ts `updateAdmin`). Re-enabling an account its person enrolled raises
 * an `admin_enabled` ops alert: someone else now holds a code to it.
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import type { ApprovalRequest } from "../approvals/mod.ts";
import { addUpdateAdmin } from "../../kv/admins.ts";
import { adminHandlers } from "../../kv/approvals.ts";
import { getSecondFactor } from "../../kv/identity_factors.ts";
import { type AdminRecord, tokenWorks } from "../../domain/admin.ts";
import type { AuditInput } from "../audit/mod.ts";
import { raiseOpsAlert } from "../ops_alerts.ts";
import { breakGlass, disableAdvice, type IdentityDeps, loadAdmin } from "./accounts.ts";
import { addHandover, approvingRole, revokedToken } from "./enrollment.ts";

const target = (id: string) => ({ type: "admin", id });

/**
 * Whether a person ever held credentials for the account: a token issued to
 * them (enrolled, or made with credentials by the CLI), a token that still
 * works, or a second factor. An account made through the API and not yet
 * enrolled has none of these.
 */
export function everEnrolled(admin: AdminRecord, hasSecondFactor: boolean): boolean {
  return admin.token_issued_at !== undefined || tokenWorks(admin) || hasSecondFactor;
}

/**
 * Whether setting `status` on `before` needs a third person: judged by the
 * account as it is while disabled (its role, whether its person enrolled, who
 * held its codes), never by a role sent with the change.
 */
export async function reactivationNeedsApproval(
  d: Pick<IdentityDeps, "kv">,
  ctx: CallContext,
  before: AdminRecord,
  status: AdminRecord["status"] | undefined,
): Promise<boolean> {
  if (ctx.actor.type !== "admin" || status !== "active" || before.status !== "disabled") {
    return false;
  }
  if (approvingRole(before.role)) return true;
  const factor = await getSecondFactor(d.kv, before.id);
  if (everEnrolled(before, factor.value !== null)) return true;
  // nobody enrolled: at once only for an admin who already held a code for it
  return !(await adminHandlers(d.kv, before.id)).has(ctx.actor.id);
}

/**
 * The `admin_enabled` ops alert of an account its person had enrolled, re-enabled with a code
 * for new credentials handed to someone else: the approver of `approval`, or the CLI's runner.
 */
export function addReenabledAlert(
  d: Pick<IdentityDeps, "newId" | "log" | "cliLine">,
  ctx: CallContext,
  op: Deno.AtomicOperation,
  admin: AdminRecord,
  approval?: Pick<ApprovalRequest, "id" | "requested_by">,
): AuditInput {
  const how = approval
    ? `on ${approval.requested_by}'s request ${approval.id}, approved by ${ctx.actor.id}, who ` +
      "was handed the enrollment code for its new credentials"
    : `by ${
      breakGlass(ctx) ?? ctx.actor.id
    }, who holds the enrollment code for its new credentials`;
  return raiseOpsAlert(
    op,
    { newId: d.newId, log: d.log },
    {
      kind: "admin_enabled",
      admin_id: admin.id,
      // neither may close it (README, "Ops alerts"); the CLI's runner is no account
      acted_by: approval
        ? [approval.requested_by, ctx.actor.id]
        : ctx.actor.type === "admin"
        ? [ctx.actor.id]
        : [],
      detail: `${admin.role} ${admin.id}, whose person had enrolled, re-enabled ${how}; if ` +
        "that was not meant, find out who did it (the audit log) and disable the account " +
        disableAdvice(d, admin.id),
    },
    admin.updated_at,
    target(admin.id),
  );
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
      const enrolled = everEnrolled(before, (await getSecondFactor(d.kv, id)).value !== null);
      const iso = new Date(d.clock.now()).toISOString();
      const next: AdminRecord = {
        ...before,
        status: "active",
        ...await revokedToken(iso),
        updated_at: iso,
      };
      addUpdateAdmin(op, entry, next);
      const handover = await addHandover(d, op, ctx, id, request, "reactivated", iso);
      const audit: AuditInput[] = [{
        action: "user.enable",
        target: target(id),
        result: "ok",
        before: { status: before.status },
        after: { status: "active", approval_id: request.id, requested_by: request.requested_by },
        reason: "old token and second factor revoked; the person enrolls new ones with an " +
          "enrollment code",
      }];
      if (enrolled) audit.push(addReenabledAlert(d, ctx, op, next, request));
      return { value: { admin_id: id, status: "active", handover }, audit };
    });
  };
}
