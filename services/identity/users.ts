/**
 * Managing admins: create (with token and second factor shown once), list,
 * change role or status, rotate the token, reset the second factor. Every
 * change is written with its audit entry in one commit (`audit.commit`).
 *
 * Granting `admin` from the API is a pending role grant that a second admin
 * approves (services/identity/role_grants.ts); system actors (the CLI, the
 * demo) are the operator of the server and grant it directly.
 */
import type { CallContext } from "../../domain/actor.ts";
import { type AuditInput } from "../audit/mod.ts";
import type { Page } from "../../kv/pagination.ts";
import { listPage } from "../../kv/pagination.ts";
import { AppError, validationFailed } from "../../core/errors.ts";
import { isRole, type Role } from "../../domain/permissions.ts";
import { hashToken, newApiToken } from "./crypto.ts";
import { enrol } from "./second_factor.ts";
import { totpUri } from "./totp.ts";
import {
  addCreateAdmin,
  addUpdateAdmin,
  adminsSelector,
  getAdminIdByEmail,
} from "../../kv/admins.ts";
import type { AdminRecord, AdminStatus, RoleGrant } from "../../domain/admin.ts";
import { addSetSecondFactor, getSecondFactor } from "../../kv/identity_factors.ts";
import { requestRoleGrant } from "./role_grants.ts";
import { type AdminView, adminView, type IdentityDeps, loadAdmin } from "./accounts.ts";

export { adminView, loadAdmin };
export type { AdminView, IdentityDeps };

/** Shown once, at creation: the clear token and second factor are not kept. */
export interface AdminCredentials {
  admin: AdminView;
  token: string;
  totp_secret: string;
  otpauth_uri: string;
  recovery_codes: string[];
  /** set when `admin` was asked for from the API: the account starts as viewer until approved */
  pending_role_grant: RoleGrant | null;
}

export interface AdminChange {
  role?: string;
  status?: AdminStatus;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (e.length > 254 || !EMAIL.test(e)) {
    throw validationFailed([{ path: "body.email", message: "must be an email address" }]);
  }
  return e;
}

export function checkRole(role: string): Role {
  if (!isRole(role)) {
    throw validationFailed([{
      path: "body.role",
      message: `unknown role "${role}"; one of viewer, support, analyst, operator, admin, auditor`,
    }]);
  }
  return role;
}

const target = (id: string) => ({ type: "admin", id });

export async function createAdmin(
  d: IdentityDeps,
  ctx: CallContext,
  input: { email: string; role: string },
): Promise<AdminCredentials> {
  const email = normalizeEmail(input.email);
  const role = checkRole(input.role);
  // Admin from the API needs a second admin: start lower and ask.
  const needsGrant = role === "admin" && ctx.actor.type === "admin";
  const id = d.newId("adm");
  const token = newApiToken();
  const factor = await enrol(d, id);
  const tokenHash = await hashToken(token);
  const grantId = needsGrant ? d.newId("grt") : null;
  const { admin, grant } = await d.audit.commit(ctx, async (op) => {
    if ((await getAdminIdByEmail(d.kv, email)).value !== null) {
      throw new AppError("conflict", "an admin with this email already exists");
    }
    const now = new Date(d.clock.now()).toISOString();
    const admin: AdminRecord = {
      id,
      email,
      role: needsGrant ? "viewer" : role,
      status: "active",
      token_hash: tokenHash,
      created_at: now,
      updated_at: now,
      created_by: ctx.actor.id,
    };
    addCreateAdmin(op, admin);
    addSetSecondFactor(op, { versionstamp: null }, factor.record);
    const audit: AuditInput[] = [{
      action: "user.create",
      target: target(id),
      result: "ok",
      after: adminView(admin),
    }];
    const grant = grantId ? await requestRoleGrant(d, op, ctx, admin, "admin", grantId) : null;
    if (grant) audit.push(grant.audit);
    return { value: { admin, grant: grant?.grant ?? null }, audit };
  });
  return {
    admin: adminView(admin),
    token,
    totp_secret: factor.totpSecret,
    otpauth_uri: totpUri(factor.totpSecret, email),
    recovery_codes: factor.recoveryCodes,
    pending_role_grant: grant,
  };
}

export function listAdmins(
  d: IdentityDeps,
  options: { limit: number; cursor?: string },
): Promise<Page<AdminView>> {
  return listPage<AdminRecord>(d.kv, d.cursors, adminsSelector(), {
    ...options,
    scope: "admins",
  }).then((p) => ({ data: p.data.map(adminView), next_cursor: p.next_cursor }));
}

/** Refuses (and audits) an admin acting on their own account where that is not allowed. */
export async function refuseSelf(
  d: IdentityDeps,
  ctx: CallContext,
  id: string,
  action: string,
  what: string,
): Promise<void> {
  if (ctx.actor.type !== "admin" || ctx.actor.id !== id) return;
  await d.audit.record(ctx, {
    action,
    target: target(id),
    result: "denied",
    reason: `self-change refused: ${what}`,
  });
  throw new AppError("forbidden", `you cannot ${what} yourself; ask another admin`);
}

/**
 * Changes role and/or status. Granting `admin` from the API returns a pending
 * grant instead (other changes in the same call still apply).
 */
export async function updateAdmin(
  d: IdentityDeps,
  ctx: CallContext,
  id: string,
  change: AdminChange,
): Promise<{ admin: AdminView; pending_role_grant: RoleGrant | null }> {
  const role = change.role === undefined ? undefined : checkRole(change.role);
  if (role !== undefined || change.status !== undefined) {
    await refuseSelf(d, ctx, id, "user.update", "change the role or status of");
  }
  const grantId = d.newId("grt");
  return await d.audit.commit(ctx, async (op) => {
    const entry = await loadAdmin(d, id);
    const before = entry.value;
    const needsGrant = role === "admin" && before.role !== "admin" && ctx.actor.type === "admin";
    const next: AdminRecord = {
      ...before,
      role: role !== undefined && !needsGrant ? role : before.role,
      status: change.status ?? before.status,
    };
    const audit: AuditInput[] = [];
    if (next.role !== before.role) {
      audit.push({
        action: "user.update",
        target: target(id),
        result: "ok",
        before: { role: before.role },
        after: { role: next.role },
      });
    }
    if (next.status !== before.status) {
      audit.push({
        action: next.status === "disabled" ? "user.disable" : "user.enable",
        target: target(id),
        result: "ok",
        before: { status: before.status },
        after: { status: next.status },
      });
    }
    if (audit.length > 0) {
      next.updated_at = new Date(d.clock.now()).toISOString();
      addUpdateAdmin(op, entry, next);
    }
    const grant = needsGrant ? await requestRoleGrant(d, op, ctx, next, "admin", grantId) : null;
    if (grant?.created) audit.push(grant.audit);
    return { value: { admin: adminView(next), pending_role_grant: grant?.grant ?? null }, audit };
  });
}

/** A new API token for `id`; the old one stops working in the same commit. */
export async function rotateToken(
  d: IdentityDeps,
  ctx: CallContext,
  id: string,
): Promise<{ admin: AdminView; token: string }> {
  const token = newApiToken();
  const tokenHash = await hashToken(token);
  return await d.audit.commit(ctx, async (op) => {
    const entry = await loadAdmin(d, id);
    const next = {
      ...entry.value,
      token_hash: tokenHash,
      updated_at: new Date(d.clock.now()).toISOString(),
    };
    addUpdateAdmin(op, entry, next);
    return {
      value: { admin: adminView(next), token },
      audit: [{ action: "token.rotate", target: target(id), result: "ok" }],
    };
  });
}

/** A new TOTP secret and recovery codes; outstanding step-up tokens stop working. */
export async function resetSecondFactor(
  d: IdentityDeps,
  ctx: CallContext,
  id: string,
): Promise<
  { admin: AdminView; totp_secret: string; otpauth_uri: string; recovery_codes: string[] }
> {
  const factor = await enrol(d, id);
  return await d.audit.commit(ctx, async (op) => {
    const admin = (await loadAdmin(d, id)).value;
    const current = await getSecondFactor(d.kv, id);
    addSetSecondFactor(op, current, factor.record);
    return {
      value: {
        admin: adminView(admin),
        totp_secret: factor.totpSecret,
        otpauth_uri: totpUri(factor.totpSecret, admin.email),
        recovery_codes: factor.recoveryCodes,
      },
      audit: [{
        action: "totp.reset",
        target: target(id),
        result: "ok",
        reason: current.value ? "replaced the second factor" : "enrolled a second factor",
      }],
    };
  });
}
