/**
 * Account changes asked for through the API, and the two-person kinds that
 * carry them out once a second admin approves (README, "Two-person rules"):
 * `user.create` and `user.role_grant` for roles that can approve
 * (`user.reactivate`: reactivate.ts; `user.disable` / `user.demote`:
 * admin_removal.ts; `user.rotate_token` / `user.reset_2fa` for another admin's
 * credentials: credential_reset.ts). Each kind's steps are also in the account's
 * audit history (account_history.ts).
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import type { AuditInput } from "../audit/mod.ts";
import type { ApprovalRequest, ApprovalService } from "../approvals/mod.ts";
import { addCreateAdmin, addUpdateAdmin, getAdminIdByEmail } from "../../kv/admins.ts";
import type { AdminRecord } from "../../domain/admin.ts";
import { losesPermissions } from "../../domain/permissions.ts";
import {
  addAccountRequestByEmail,
  addAdminLink,
  getAccountRequestByEmail,
  getApproval,
} from "../../kv/approvals.ts";
import {
  DEFAULT_APPROVAL_TTL_MS,
  sameRequestAgain,
  waitingRequestWords,
} from "../../domain/approval.ts";
import { type AdminView, adminView, emailTaken, type IdentityDeps, loadAdmin } from "./accounts.ts";
import { checkRole, normalizeEmail } from "./users.ts";
import { auditRefused } from "./refusals.ts";
import { executeReactivate } from "./reactivate.ts";
import { executeRemoval } from "./admin_removal.ts";
import { lastFactorCheck, resetExecutor } from "./credential_reset.ts";
import { inAccountHistory } from "./account_history.ts";
import {
  addHandover,
  addIssuedCode,
  approvingRole,
  issueCode,
  type IssuedCode,
  revokedToken,
} from "./enrollment.ts";

export interface AccountRequestResult extends Partial<IssuedCode> {
  /** the account, when it needed no second person (with its code, for its creator to hand over) */
  admin: AdminView | null;
  /** the pending request, when it did (no code: its approver hands one over) */
  approval: ApprovalRequest | null;
}

const target = (id: string) => ({ type: "admin", id });

async function assertEmailFree(d: IdentityDeps, ctx: CallContext, email: string): Promise<void> {
  const existing = (await getAdminIdByEmail(d.kv, email)).value;
  if (existing !== null) throw await emailTaken(d, ctx, existing);
}

/** A new account record with no usable credentials yet (its person enrolls). */
export async function newAccount(
  d: IdentityDeps,
  email: string,
  role: AdminRecord["role"],
  createdBy: string,
  id = d.newId("adm"),
): Promise<AdminRecord> {
  const now = new Date(d.clock.now()).toISOString();
  return {
    id,
    email,
    role,
    status: "active",
    ...await revokedToken(now),
    created_at: now,
    updated_at: now,
    created_by: createdBy,
  };
}

/**
 * The email's request index as read; 409 while it names a pending request,
 * unless that is the very request `asked` sent again by its requester (a
 * second click): then that request, to answer with nothing written.
 */
async function refusePendingEmail(
  d: IdentityDeps,
  ctx: CallContext,
  email: string,
  asked?: { role: AdminRecord["role"] },
): Promise<{ index: Deno.KvEntryMaybe<string>; again?: ApprovalRequest }> {
  const index = await getAccountRequestByEmail(d.kv, email);
  const earlier = index.value ? (await getApproval(d.kv, index.value)).value : null;
  if (earlier?.status === "pending" && Date.parse(earlier.expires_at) > d.clock.now()) {
    // the id it reserved (`payload.admin_id`) is the request's own, not part of what was asked
    const reserved = earlier.payload.admin_id ? { admin_id: earlier.payload.admin_id } : {};
    if (asked && sameRequestAgain(earlier, ctx, "user.create", { email, ...asked, ...reserved })) {
      return { index, again: earlier };
    }
    throw new AppError(
      "conflict",
      `a request to create ${email} is already pending (${waitingRequestWords(earlier, ctx)}); ` +
        "approve or reject it, or wait until it expires",
      { extra: { approval_id: earlier.id } },
    );
  }
  return { index };
}

/**
 * `POST /api/admin/users`: an account and its enrollment code, or, for a role
 * that can approve, a pending request without one (the approver hands it over).
 */
export async function requestAccount(
  d: IdentityDeps,
  approvals: ApprovalService,
  ctx: CallContext,
  input: { email: string; role: string },
): Promise<AccountRequestResult> {
  const email = normalizeEmail(input.email);
  const role = checkRole(input.role);
  try {
    return await createOrAsk(d, approvals, ctx, email, role);
  } catch (error) {
    // refused (a request for the email waits, or it has an account): audited denied, on the
    // request waiting or the account that has the email
    await auditRefused(d, ctx, "user.create", async (e) => {
      const waiting = e.extra?.approval_id;
      if (typeof waiting === "string") return { type: "approval", id: waiting };
      return target((await getAdminIdByEmail(d.kv, email)).value ?? "unknown");
    }, error);
    throw error;
  }
}

async function createOrAsk(
  d: IdentityDeps,
  approvals: ApprovalService,
  ctx: CallContext,
  email: string,
  role: AdminRecord["role"],
): Promise<AccountRequestResult> {
  await assertEmailFree(d, ctx, email);
  if (approvingRole(role)) {
    return await d.audit.commit(ctx, async (op) => {
      // one pending request per email: a concurrent one loses on the index's versionstamp
      const { index, again } = await refusePendingEmail(d, ctx, email, { role });
      if (again) return { value: { admin: null, approval: again }, audit: [] };
      // the account's id, reserved: the request and its steps are in its history from the start
      const asked = { email, role, admin_id: d.newId("adm") };
      const { request, audit } = approvals.addRequest(op, "user.create", asked, ctx, {
        summary: `create ${role} ${email}`,
      });
      addAccountRequestByEmail(op, index, email, request.id, 2 * DEFAULT_APPROVAL_TTL_MS);
      const entries = approvals.entriesAbout(request, audit);
      return { value: { admin: null, approval: request }, audit: entries };
    });
  }
  const account = await newAccount(d, email, role, ctx.actor.id);
  return await d.audit.commit(ctx, async (op) => {
    await assertEmailFree(d, ctx, email);
    // nor while one waits for its approver: checked, so a request committed meanwhile wins
    op.check((await refusePendingEmail(d, ctx, email)).index);
    addCreateAdmin(op, account);
    addAdminLink(op, account.id, ctx.actor.id, { why: "created", at: account.created_at });
    const issued = await issueCode(d, ctx, "account", { admin_id: account.id, approval_id: null });
    addIssuedCode(op, issued.record);
    const audit: AuditInput[] = [{
      action: "user.create",
      target: target(account.id),
      result: "ok",
      after: adminView(account),
    }];
    return { value: { admin: adminView(account), approval: null, ...issued.code }, audit };
  });
}

/**
 * `user.create`: the approved account, created as the approver, whose answer
 * carries its enrollment code: whoever approves an account that can approve
 * hands its credentials over, never its requester.
 */
function executeCreate(d: IdentityDeps) {
  return async (_deps: unknown, request: ApprovalRequest, ctx: CallContext) => {
    const email = String(request.payload.email);
    const role = checkRole(String(request.payload.role));
    const reserved = request.payload.admin_id; // none in a request made before ids were reserved
    const id = typeof reserved === "string" ? reserved : d.newId("adm");
    const account = await newAccount(d, email, role, request.requested_by, id);
    return await d.audit.commit(ctx, async (op) => {
      await assertEmailFree(d, ctx, email);
      addCreateAdmin(op, account);
      addAdminLink(op, account.id, request.requested_by, {
        why: "created",
        at: account.created_at,
      });
      addAdminLink(op, account.id, ctx.actor.id, { why: "approved", at: account.created_at });
      const issued = await issueCode(d, ctx, "account", {
        admin_id: account.id,
        approval_id: request.id,
      });
      addIssuedCode(op, issued.record);
      return {
        value: { admin_id: account.id, email, role, handover: issued.code },
        audit: [{
          action: "user.create",
          target: target(account.id),
          result: "ok",
          after: {
            ...adminView(account),
            approval_id: request.id,
            requested_by: request.requested_by,
          },
        }],
      };
    });
  };
}

/**
 * `user.role_grant`: the role, if the admin is still as they were when it was
 * asked for. Whoever held the lower role's credentials does not keep them into
 * the new one: token and second factor are revoked in the same commit and the
 * approver's answer carries an enrollment code for new ones.
 */
function executeRoleGrant(d: IdentityDeps) {
  return (_deps: unknown, request: ApprovalRequest, ctx: CallContext) => {
    const id = String(request.payload.admin_id);
    const role = checkRole(String(request.payload.role));
    return d.audit.commit(ctx, async (op) => {
      const entry = await loadAdmin(d, id);
      const before = entry.value;
      if (before.role !== request.payload.from_role || before.status !== "active") {
        throw new AppError(
          "conflict",
          `admin ${id} changed since the grant was asked for (now ${before.role}, ${before.status}); ask again`,
        );
      }
      const iso = new Date(d.clock.now()).toISOString();
      addUpdateAdmin(op, entry, {
        ...before,
        role,
        ...await revokedToken(iso),
        updated_at: iso,
        ...(losesPermissions(before.role, role) ? { demoted_at: iso } : {}),
      });
      const handover = await addHandover(d, op, ctx, id, request, "granted", iso);
      return {
        value: { admin_id: id, role, handover },
        audit: [{
          action: "user.update",
          target: target(id),
          result: "ok",
          before: { role: before.role },
          after: { role, approval_id: request.id, requested_by: request.requested_by },
          reason: "old token and second factor revoked; the approver hands over an enrollment " +
            "code for new ones",
        }],
      };
    });
  };
}

/** The executors, registered on the approvals queue by the identity service. */
export function registerAccountKinds(d: IdentityDeps, approvals: ApprovalService): void {
  const history = inAccountHistory; // each step also in the account's history
  approvals.register("user.create", { execute: executeCreate(d), history });
  approvals.register("user.role_grant", { execute: executeRoleGrant(d), history });
  approvals.register("user.reactivate", { execute: executeReactivate(d), history });
  for (
    const [kind, what] of [["user.rotate_token", "token"], [
      "user.reset_2fa",
      "second_factor",
    ]] as const
  ) {
    approvals.register(kind, {
      execute: resetExecutor(d, what),
      refuseApproval: lastFactorCheck(d, what),
      history,
    });
  }
  approvals.register("user.disable", { execute: executeRemoval(d), history });
  approvals.register("user.demote", { execute: executeRemoval(d), history });
}

export { adminView };
