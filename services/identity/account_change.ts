/**
 * One change of an admin's role or status, added to the caller's commit with
 * its audit entries: the direct change (users.ts `updateAdmin`, the CLI), an
 * admin removed alone from the API and an approved removal (admin_removal.ts).
 */
import type { CallContext } from "../../domain/actor.ts";
import type { AuditInput } from "../audit/mod.ts";
import { losesPermissions, type Role } from "../../domain/permissions.ts";
import { addUpdateAdmin } from "../../kv/admins.ts";
import {
  type AdminRecord,
  type AdminRemoval,
  adminRemoval,
  type AdminStatus,
} from "../../domain/admin.ts";
import type { ApprovalRequest } from "../../domain/approval.ts";
import { raiseOpsAlert } from "../ops_alerts.ts";
import { addDeleteSecondFactor, getSecondFactor } from "../../kv/identity_factors.ts";
import {
  adminCliLineOf,
  type AdminView,
  adminView,
  breakGlass,
  disableAdvice,
  type IdentityDeps,
  isBreakGlassCli,
  isFirstAdminStart,
} from "./accounts.ts";
import { addVoidStartedBy } from "./revoke.ts";
import { addReenabledAlert, everEnrolled } from "./reactivate.ts";
import { activeManagersBut } from "./last_admin.ts";
import {
  addIssuedCode,
  approvingRole,
  issueCode,
  type IssuedCode,
  revokedToken,
} from "./enrollment.ts";

const target = (id: string) => ({ type: "admin", id });

/** What an approved request adds to the entries of the change it carries out. */
export type ApprovedBy = Pick<ApprovalRequest, "id" | "requested_by">;

/**
 * Adds to `op` the change of the admin read as `entry` (its versionstamp
 * checked) and returns what it becomes and the audit entries for the same
 * commit. Disabling voids what the account started (revoke.ts); re-enabling
 * revokes its old credentials and issues an enrollment code; an admin
 * disabled or demoted raises an ops alert (`admin_disabled`, `admin_demoted`),
 * and so does an operator or admin the break-glass CLI re-enables or promotes
 * (`admin_enabled`, `admin_promoted`) and any account its person had enrolled
 * that is re-enabled (`admin_enabled`).
 */
export async function addAdminChange(
  d: IdentityDeps,
  ctx: CallContext,
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<AdminRecord>,
  change: { role?: Role; status?: AdminStatus },
  options: { now: number; approval?: ApprovedBy },
): Promise<{ value: { admin: AdminView; handover?: IssuedCode }; audit: AuditInput[] }> {
  const { now, approval } = options;
  const id = entry.value.id;
  const before = entry.value;
  const next: AdminRecord = {
    ...before,
    role: change.role ?? before.role,
    status: change.status ?? before.status,
  };
  const approved = approval
    ? { approval_id: approval.id, requested_by: approval.requested_by }
    : {};
  const audit: AuditInput[] = [];
  if (next.role !== before.role) {
    audit.push({
      action: "user.update",
      target: target(id),
      result: "ok",
      before: { role: before.role },
      after: { role: next.role, ...approved },
      reason: breakGlass(ctx),
    });
  }
  let handover: IssuedCode | undefined;
  let enrolled = false;
  if (next.status === "active" && before.status === "disabled") {
    // re-enabled with none of its old credentials: whoever re-enables hands over a code
    Object.assign(next, await revokedToken(new Date(now).toISOString()));
    const factor = await getSecondFactor(d.kv, id);
    enrolled = everEnrolled(before, factor.value !== null);
    if (factor.value) addDeleteSecondFactor(op, factor);
    // issued at the very time the account is stamped below: not a millisecond before it
    const issued = await issueCode(d, ctx, "account", { admin_id: id, approval_id: null }, now);
    addIssuedCode(op, issued.record);
    handover = issued.code;
  }
  if (next.status !== before.status) {
    // what a disabled admin started goes with them, in the same commit
    const voided = next.status === "disabled" ? await addVoidStartedBy(d, op, id) : null;
    audit.push({
      action: next.status === "disabled" ? "user.disable" : "user.enable",
      target: target(id),
      result: "ok",
      before: { status: before.status },
      after: {
        status: next.status,
        ...approved,
        ...(voided?.expired_requests.length ? { expired_requests: voided.expired_requests } : {}),
        ...(voided?.revoked_codes ? { revoked_enrollment_codes: voided.revoked_codes } : {}),
      },
      reason: [
        handover
          ? "old token and second factor revoked; the person enrolls new ones with an " +
            "enrollment code"
          : null,
        breakGlass(ctx),
      ].filter(Boolean).join("; ") || null,
    }, ...(voided?.audit ?? []));
  }
  if (audit.length > 0) {
    next.updated_at = new Date(now).toISOString();
    if (next.status === "disabled" && before.status !== "disabled") {
      next.disabled_at = next.updated_at;
    }
    if (losesPermissions(before.role, next.role)) next.demoted_at = next.updated_at;
    addUpdateAdmin(op, entry, next);
    const removal = adminRemoval(before, next);
    if (removal) {
      const left = (await activeManagersBut(d.kv, id)).length;
      audit.push(addRemovalAlert(d, ctx, op, next, removal, approval, left));
    }
    const grant = breakGlassGrant(ctx, before, next);
    if (grant) audit.push(addGrantAlert(d, ctx, op, next, grant, before.role));
    // someone's account re-enabled: whoever re-enabled it holds a code to it (README, "Ops
    // alerts"); an operator's or admin's by the CLI is told by its grant alert already
    else if (handover && enrolled) audit.push(addReenabledAlert(d, ctx, op, next));
  }
  return { value: { admin: adminView(next), ...(handover ? { handover } : {}) }, audit };
}

/** What the break-glass CLI gave an account that can approve (operator, admin). */
export type BreakGlassGrant = "create" | "enable" | "promote";

/**
 * Whether going from `before` (null: a new account) to `next` gives, through
 * the break-glass CLI, an account that can approve: made, re-enabled, or given
 * a role with more permissions. The API's own paths to these need a second
 * admin; the CLI acts alone, so the other admins are told (README, "Break-glass").
 */
export function breakGlassGrant(
  ctx: CallContext,
  before: Pick<AdminRecord, "role" | "status"> | null,
  next: Pick<AdminRecord, "role" | "status">,
): BreakGlassGrant | null {
  if (!isBreakGlassCli(ctx) || !approvingRole(next.role)) return null;
  if (before === null) return "create";
  if (before.status === "disabled" && next.status === "active") return "enable";
  // more permissions than before: a viewer made operator, an operator made admin
  return next.role !== before.role && losesPermissions(next.role, before.role) ? "promote" : null;
}

const GRANT_KINDS = {
  create: "admin_created",
  enable: "admin_enabled",
  promote: "admin_promoted",
} as const;

/**
 * The ops alert of an account that can approve made, re-enabled or promoted
 * by the break-glass CLI (`fromRole`: its role before a promotion).
 */
export function addGrantAlert(
  d: Pick<IdentityDeps, "newId" | "log" | "cliLine">,
  ctx: CallContext,
  op: Deno.AtomicOperation,
  admin: AdminRecord,
  grant: BreakGlassGrant,
  fromRole?: Role,
): AuditInput {
  const what = grant === "create"
    ? `${admin.role} ${admin.id} created`
    : grant === "enable"
    ? `${admin.role} ${admin.id} re-enabled`
    : `${admin.id} promoted from ${fromRole} to ${admin.role}`;
  return raiseOpsAlert(
    op,
    { newId: d.newId, log: d.log },
    {
      kind: GRANT_KINDS[grant],
      admin_id: admin.id,
      detail: `${what} by ${breakGlass(ctx)}; if that was not meant, find out who ` +
        (isFirstAdminStart(ctx)
          ? "can set the deployment's environment variables"
          : "holds the server's KV") +
        ` (the audit log) and disable the account ${disableAdvice(d, admin.id)}`,
    },
    admin.updated_at,
    target(admin.id),
  );
}

/** The ops alert of an admin disabled or demoted, saying by whom and how. */
function addRemovalAlert(
  d: IdentityDeps,
  ctx: CallContext,
  op: Deno.AtomicOperation,
  admin: AdminRecord,
  removal: AdminRemoval,
  approval: ApprovedBy | undefined,
  /** active admins other than `admin` once the change lands */
  managersLeft: number,
): AuditInput {
  const how = approval
    ? `approved by ${ctx.actor.id} on ${approval.requested_by}'s request ${approval.id}`
    : ctx.actor.type === "system"
    ? `by ${breakGlass(ctx)}`
    : `by ${ctx.actor.id} alone (their one removal of an admin alone in 24 h)`;
  const what = removal === "disable" ? "disabled" : `demoted to ${admin.role}`;
  // Undone through the API, it needs an admin to ask and another to approve; with fewer left
  // the break-glass CLI is the only way back (README, "Break-glass")
  // the CLI line as the CLI's own are typed: the server's KV_PATH, the Deno that runs it
  // (README, Commands); none on a store no CLI reaches
  const line = adminCliLineOf(
    d,
    removal === "disable" ? `enable --id ${admin.id}` : `set-role --id ${admin.id} --role admin`,
  );
  const few = `${managersLeft === 0 ? "no" : "one"} active admin is left, too few to ask ` +
    "for it and approve it through the API";
  const undo = managersLeft >= 2
    ? "undo it with a second admin (PATCH /api/admin/users/{id})"
    : line
    ? `undo it with \`${line}\` where the server's KV is reached: ${few}`
    : `no CLI reaches this in-memory store (KV_PATH=:memory:) to undo it, and ${few}`;
  return raiseOpsAlert(
    op,
    { newId: d.newId, log: d.log },
    {
      kind: removal === "disable" ? "admin_disabled" : "admin_demoted",
      admin_id: admin.id,
      // neither may close it (README, "Ops alerts"); the CLI's runner is no account
      acted_by: approval
        ? [approval.requested_by, ctx.actor.id]
        : ctx.actor.type === "admin"
        ? [ctx.actor.id]
        : [],
      detail: `admin ${admin.id} ${what}, ${how}; if that was not meant, find out who did it ` +
        `(the audit log) and ${undo}`,
    },
    admin.updated_at,
    target(admin.id),
  );
}
