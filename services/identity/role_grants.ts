/**
 * Maker-checker for the `admin` role: one admin asks (a pending role grant),
 * a different admin approves it with a second factor. Grants expire after a
 * day, and approval refuses if the account changed since the request.
 */
import type { CallContext } from "../../domain/actor.ts";
import { type AuditInput } from "../audit/mod.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { Role } from "../../domain/permissions.ts";
import {
  addCreateRoleGrant,
  addUpdateAdmin,
  addUpdateRoleGrant,
  getRoleGrant,
  listRoleGrants,
} from "../../kv/admins.ts";
import type { AdminRecord, RoleGrant } from "../../domain/admin.ts";
import { adminView, type IdentityDeps, loadAdmin } from "./accounts.ts";

export const ROLE_GRANT_TTL_MS = 24 * 60 * 60_000;

const target = (id: string) => ({ type: "admin", id });

/**
 * Adds a pending grant of `role` to `admin` into `op`, or returns the pending
 * one already asked for (asking twice is not two grants).
 */
export async function requestRoleGrant(
  d: IdentityDeps,
  op: Deno.AtomicOperation,
  ctx: CallContext,
  admin: AdminRecord,
  role: Role,
  grantId: string,
): Promise<{ grant: RoleGrant; created: boolean; audit: AuditInput }> {
  const now = d.clock.now();
  const existing = (await listRoleGrants(d.kv, admin.id)).find((g) =>
    g.status === "pending" && g.role === role && Date.parse(g.expires_at) > now
  );
  const grant: RoleGrant = existing ?? {
    id: grantId,
    admin_id: admin.id,
    from_role: admin.role,
    role,
    status: "pending",
    requested_by: ctx.actor.id,
    decided_by: null,
    created_at: new Date(now).toISOString(),
    decided_at: null,
    expires_at: new Date(now + ROLE_GRANT_TTL_MS).toISOString(),
  };
  if (!existing) addCreateRoleGrant(op, grant);
  return {
    grant,
    created: !existing,
    audit: {
      action: "user.role_grant.request",
      target: target(admin.id),
      result: "ok",
      before: { role: admin.role },
      after: { role, grant_id: grant.id, status: "pending" },
      reason: "granting admin needs a second admin's approval",
    },
  };
}

/** Pending grants of one admin (what a second admin can approve). */
export async function pendingRoleGrants(d: IdentityDeps, adminId: string): Promise<RoleGrant[]> {
  const now = d.clock.now();
  return (await listRoleGrants(d.kv, adminId)).filter((g) =>
    g.status === "pending" && Date.parse(g.expires_at) > now
  );
}

async function loadPendingGrant(d: IdentityDeps, adminId: string, grantId: string) {
  const entry = await getRoleGrant(d.kv, grantId);
  const grant = entry.value;
  if (!grant || grant.admin_id !== adminId) throw notFound("role grant", grantId);
  if (grant.status !== "pending") {
    throw new AppError("conflict", `role grant ${grantId} was already ${grant.status}`);
  }
  if (Date.parse(grant.expires_at) <= d.clock.now()) {
    throw new AppError(
      "conflict",
      `role grant ${grantId} expired at ${grant.expires_at}; ask again`,
    );
  }
  return entry as Deno.KvEntry<RoleGrant>;
}

/** The second admin's approval: the role changes and the grant closes in one commit. */
export async function approveRoleGrant(
  d: IdentityDeps,
  ctx: CallContext,
  adminId: string,
  grantId: string,
): Promise<{ admin: ReturnType<typeof adminView>; grant: RoleGrant }> {
  const pending = await loadPendingGrant(d, adminId, grantId);
  if (pending.value.requested_by === ctx.actor.id || adminId === ctx.actor.id) {
    await d.audit.record(ctx, {
      action: "user.role_grant.approve",
      target: target(adminId),
      result: "denied",
      reason: "self-approval: a different admin must approve",
      after: { grant_id: grantId },
    });
    throw new AppError(
      "self_approval_forbidden",
      "you asked for this grant (or it is for you); a different admin must approve it",
    );
  }
  return await d.audit.commit(ctx, async (op) => {
    const grantEntry = await loadPendingGrant(d, adminId, grantId);
    const adminEntry = await loadAdmin(d, adminId);
    const before = adminEntry.value;
    if (before.role !== grantEntry.value.from_role || before.status !== "active") {
      throw new AppError(
        "conflict",
        `admin ${adminId} changed since the grant was asked for (now ${before.role}, ${before.status}); ask again`,
      );
    }
    const nowIso = new Date(d.clock.now()).toISOString();
    const next: AdminRecord = { ...before, role: grantEntry.value.role, updated_at: nowIso };
    const grant: RoleGrant = {
      ...grantEntry.value,
      status: "approved",
      decided_by: ctx.actor.id,
      decided_at: nowIso,
    };
    addUpdateAdmin(op, adminEntry, next);
    addUpdateRoleGrant(op, grantEntry, grant);
    return {
      value: { admin: adminView(next), grant },
      audit: [{
        action: "user.role_grant.approve",
        target: target(adminId),
        result: "ok",
        before: { role: before.role },
        after: { role: next.role, grant_id: grantId, requested_by: grant.requested_by },
      }, {
        action: "user.update",
        target: target(adminId),
        result: "ok",
        before: { role: before.role },
        after: { role: next.role },
      }],
    };
  });
}

/** Closes a pending grant without a role change (any admin, the asker included). */
export async function rejectRoleGrant(
  d: IdentityDeps,
  ctx: CallContext,
  adminId: string,
  grantId: string,
): Promise<RoleGrant> {
  return await d.audit.commit(ctx, async (op) => {
    const entry = await loadPendingGrant(d, adminId, grantId);
    const grant: RoleGrant = {
      ...entry.value,
      status: "rejected",
      decided_by: ctx.actor.id,
      decided_at: new Date(d.clock.now()).toISOString(),
    };
    addUpdateRoleGrant(op, entry, grant);
    return {
      value: grant,
      audit: [{
        action: "user.role_grant.reject",
        target: target(adminId),
        result: "ok",
        after: { grant_id: grantId, role: grant.role },
      }],
    };
  });
}
