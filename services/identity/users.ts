/**
 * Managing admins: create (with token and second factor shown once), list,
 * change role or status, rotate the token, reset the second factor. Every
 * change is written with its audit entry in one commit (`audit.commit`).
 *
 * These act at once: the API reaches them only for what needs no second
 * person (services/identity/invites.ts decides); the CLI is the break-glass
 * path for whoever holds the KV and says so in its audit entries.
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
import { addCreateAdmin, adminsSelector, getAdminIdByEmail } from "../../kv/admins.ts";
import { type AdminRecord, type AdminStatus, canonicalEmail } from "../../domain/admin.ts";
import { addSetSecondFactor } from "../../kv/identity_factors.ts";
import {
  type AdminView,
  adminView,
  breakGlass,
  changedMeanwhile,
  emailTaken,
  type IdentityDeps,
  loadAdmin,
} from "./accounts.ts";
import type { IssuedCode } from "./enrollment.ts";
import { addAdminChange, addGrantAlert, breakGlassGrant } from "./account_change.ts";
import { addLastAdminCheck } from "./last_admin.ts";

export { adminView, breakGlass, loadAdmin };
export { refuseSelf as refuseSelfChange };
export type { AdminView, IdentityDeps };

/** Shown once, at creation: the clear token and second factor are not kept. */
export interface AdminCredentials {
  admin: AdminView;
  token: string;
  totp_secret: string;
  otpauth_uri: string;
  recovery_codes: string[];
}

export interface AdminChange {
  role?: string;
  status?: AdminStatus;
}

export function normalizeEmail(email: string): string {
  const e = canonicalEmail(email);
  if (e === null) {
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
  const id = d.newId("adm");
  const token = newApiToken();
  const factor = await enrol(d, id);
  const tokenHash = await hashToken(token);
  const admin = await d.audit.commit(ctx, async (op) => {
    const existing = (await getAdminIdByEmail(d.kv, email)).value;
    if (existing !== null) throw await emailTaken(d, ctx, existing);
    const now = new Date(d.clock.now()).toISOString();
    const admin: AdminRecord = {
      id,
      email,
      role,
      status: "active",
      token_hash: tokenHash,
      created_at: now,
      updated_at: now,
      created_by: ctx.actor.id,
      token_issued_at: now,
    };
    addCreateAdmin(op, admin);
    addSetSecondFactor(op, { versionstamp: null }, factor.record);
    const audit: AuditInput[] = [{
      action: "user.create",
      target: target(id),
      result: "ok",
      after: adminView(admin),
      reason: breakGlass(ctx),
    }];
    // an operator or admin made alone by the break-glass CLI: the other admins are told
    if (breakGlassGrant(ctx, null, admin)) {
      audit.push(addGrantAlert(d, ctx, op, admin, "create"));
    }
    return { value: admin, audit };
  });
  return {
    admin: adminView(admin),
    token,
    totp_secret: factor.totpSecret,
    otpauth_uri: totpUri(factor.totpSecret, email),
    recovery_codes: factor.recoveryCodes,
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

/** Changes role and/or status at once (the caller decided no second person is needed). */
export async function updateAdmin(
  d: IdentityDeps,
  ctx: CallContext,
  id: string,
  change: AdminChange,
  /** the versionstamp the caller judged the change on: any other is a conflict */
  judgedOn?: string,
): Promise<{ admin: AdminView; handover?: IssuedCode }> {
  const role = change.role === undefined ? undefined : checkRole(change.role);
  if (role !== undefined || change.status !== undefined) {
    await refuseSelf(d, ctx, id, "user.update", "change the role or status of");
  }
  let disabling = false;
  const result = await d.audit.commit(ctx, async (op) => {
    const entry = await loadAdmin(d, id);
    if (judgedOn !== undefined && entry.versionstamp !== judgedOn) {
      // the very change landed meanwhile (a second click, another tab): answered as the
      // account stands, nothing written, as when it is sent after the first answer
      const a = entry.value;
      if ((role ?? a.role) === a.role && (change.status ?? a.status) === a.status) {
        return { value: { admin: adminView(a) }, audit: [] };
      }
      throw changedMeanwhile(id);
    }
    // the break-glass CLI never disables or demotes the last active admin (last_admin.ts)
    await addLastAdminCheck(d.kv, ctx, op, entry.value, {
      role: role ?? entry.value.role,
      status: change.status ?? entry.value.status,
    });
    disabling = change.status === "disabled" && entry.value.status !== "disabled";
    return await addAdminChange(d, ctx, op, entry, { role, status: change.status }, {
      now: d.clock.now(),
    });
  });
  if (result.admin.status === "disabled" && disabling) await d.onDisabled?.(id);
  return result;
}
