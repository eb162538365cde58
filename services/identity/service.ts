/**
 * Identity: who is calling (bearer token), how often (throttle), whether
 * they may (permission table), and a fresh second factor where needed; plus
 * the admin accounts themselves. The guard in routes/admin_route.ts calls
 * the four `IdentityGuard` checks in that order.
 */
import type { Deps } from "../deps.ts";
import { AppError } from "../../core/errors.ts";
import { permissionsOf, type Role } from "../../domain/permissions.ts";
import { anyAdminExists, listAllAdmins } from "../../kv/admins.ts";
import { getSecondFactor } from "../../kv/identity_factors.ts";
import { throttleToken } from "./throttle.ts";
import { consumeCode } from "./second_factor.ts";
import { createStepUp } from "./step_up.ts";
import {
  type AdminCredentials,
  adminView,
  checkRole,
  createAdmin,
  listAdmins,
  loadAdmin,
  refuseSelf,
  resetSecondFactor,
  rotateToken,
  updateAdmin,
} from "./users.ts";
import type { ApprovalService } from "../approvals/mod.ts";
import {
  registerAccountKinds,
  requestAccount,
  requestCredentialReset,
  requestRoleGrant,
} from "./invites.ts";
import { approvingRole, redeem } from "./enrollment.ts";

export type { AdminChange, AdminCredentials, AdminView } from "./users.ts";
export type { AccountRequestResult } from "./invites.ts";
export type { Redeemed } from "./enrollment.ts";

export type { IdentityGuard, IdentityOptions, IdentityService, Me } from "./types.ts";
import type { IdentityOptions, IdentityService } from "./types.ts";
export { principalContext } from "./guard.ts";
import {
  authenticate,
  authorize,
  bearerHash,
  createGuardState,
  principalContext,
  throttle,
  verifySecondFactor,
} from "./guard.ts";

export function createIdentityService(deps: Deps, options: IdentityOptions): IdentityService {
  const { kv, clock } = deps;
  const g = createGuardState(deps, options);
  const { d, limits } = g;
  const needApprovals = (): ApprovalService => {
    if (!options.approvals) throw new Error("the identity service was built without approvals");
    return options.approvals;
  };
  if (options.approvals) registerAccountKinds(d, options.approvals);

  return {
    authenticate: (authorization) => authenticate(g, authorization),
    throttle: (principal, kind) => throttle(g, principal, kind),
    authorize: (principal, permission, meta) => authorize(g, principal, permission, meta),
    verifySecondFactor: (principal, factor, meta) => verifySecondFactor(g, principal, factor, meta),
    async stepUp(principal, code, meta) {
      // per admin, not per token: a second token would not buy more guesses
      await throttleToken(kv, clock, limits, "step_up", principal.admin_id);
      return await createStepUp(
        d,
        principalContext(principal, meta),
        principal.token_hash,
        code.trim(),
        deps.config.stepUpTtlS,
      );
    },

    async me(principal) {
      const [admin, factor] = await Promise.all([
        loadAdmin(d, principal.admin_id),
        getSecondFactor(kv, principal.admin_id),
      ]);
      const f = factor.value;
      const now = clock.now();
      return {
        ...adminView(admin.value),
        permissions: permissionsOf(admin.value.role),
        second_factor: {
          enrolled: f !== null,
          enrolled_at: f?.enrolled_at ?? null,
          locked_until: f?.locked_until && f.locked_until > now
            ? new Date(f.locked_until).toISOString()
            : null,
          recovery_codes_remaining: f?.recovery_code_hashes.length ?? 0,
        },
      };
    },

    createAdmin: (ctx, input) => createAdmin(d, ctx, input),
    requestAccount: (ctx, input) => requestAccount(d, needApprovals(), ctx, input),
    enroll: (code, meta, proof) =>
      redeem(d, code.trim(), meta, {
        verifyOtp: async (adminId) => {
          const otp = proof.otp?.trim();
          if (!otp) {
            throw new AppError(
              "otp_required",
              "a new token is redeemed with your current second factor: send X-OTP-Code",
            );
          }
          const ctx = {
            actor: { type: "admin" as const, id: adminId, role: null },
            request: meta,
            second_factor: false,
          };
          await consumeCode(d, ctx, otp, "header.x-otp-code");
        },
        tokenHash: bearerHash(proof.authorization),
      }),
    requestCredentialReset: (ctx, id, what) =>
      requestCredentialReset(d, needApprovals(), ctx, id, what),
    rotateOwnToken: (ctx) => rotateToken(d, ctx, ctx.actor.id),
    listAdmins: (opts) => listAdmins(d, opts),
    async getAdmin(id) {
      return adminView((await loadAdmin(d, id)).value);
    },
    async allAdmins() {
      return (await listAllAdmins(kv)).map(adminView);
    },
    async updateAdmin(ctx, id, change) {
      const role = change.role === undefined ? undefined : checkRole(change.role);
      const before = (await loadAdmin(d, id)).value;
      // From the API, a role that can approve is granted by a second admin.
      const grant = ctx.actor.type === "admin" && role !== undefined && role !== before.role &&
        approvingRole(role) && !(role === "operator" && before.role === "admin");
      if (grant) await refuseSelf(d, ctx, id, "user.update", "change the role of");
      const direct = { ...change, ...(grant ? { role: undefined } : {}) };
      const admin = direct.role !== undefined || direct.status !== undefined
        ? (await updateAdmin(d, ctx, id, direct)).admin
        : adminView(before);
      const pending = grant ? await requestRoleGrant(d, needApprovals(), ctx, before, role) : null;
      return { admin, pending_approval: pending };
    },
    rotateToken: (ctx, id) => rotateToken(d, ctx, id),
    resetSecondFactor: (ctx, id) => resetSecondFactor(d, ctx, id),
    anyAdminExists: () => anyAdminExists(kv),
    close: () => g.apiThrottle.close(),
  };
}

/**
 * Demo mode: creates `demo@example.com` as admin when no admin exists yet and
 * returns its one-time credentials for main.ts to print; null when there
 * already is an admin (or another isolate just made it).
 */
export async function createDemoAdmin(
  services: { identity: IdentityService },
  email = "demo@example.com",
): Promise<AdminCredentials | null> {
  if (await services.identity.anyAdminExists()) return null;
  try {
    return await services.identity.createAdmin(
      { actor: { type: "system", id: "demo", role: null }, request: null, second_factor: false },
      { email, role: "admin" satisfies Role },
    );
  } catch (e) {
    if (e instanceof AppError && e.code === "conflict") return null;
    throw e;
  }
}
