/**
 * Account management behind the admin routes: creating and requesting
 * accounts, enrolment, token rotation and second-factor resets, role changes
 * (a role that can approve is granted by a second admin).
 */
import { AppError } from "../../core/errors.ts";
import { anyAdminExists, listAllAdmins } from "../../kv/admins.ts";
import { API_TOKEN_FORMAT } from "./crypto.ts";
import { sha256Hex } from "../../core/encoding.ts";
import { consumeCode } from "./second_factor.ts";
import {
  adminView,
  checkRole,
  createAdmin,
  type IdentityDeps,
  listAdmins,
  loadAdmin,
  refuseSelf,
  updateAdmin,
} from "./users.ts";
import type { ApprovalService } from "../approvals/mod.ts";
import { requestAccount } from "./invites.ts";
import { resetSecondFactor, rotateToken } from "./credentials.ts";
import {
  requestCredentialReset,
  requestReactivation,
  requestRoleGrant,
} from "./account_requests.ts";
import { approvingRole, redeem } from "./enrollment.ts";
import { reactivationNeedsApproval } from "./reactivate.ts";
import { removeAdmin, removesAdmin } from "./admin_removal.ts";
import { BEARER, refuseSeveralCredentials } from "./authenticate.ts";
import { changedMeanwhile } from "./accounts.ts";
import type { IdentityGuard, IdentityService } from "./types.ts";
import { auditRefused } from "./refusals.ts";
import { getSecondFactor } from "../../kv/identity_factors.ts";
import { notEnrolled } from "./pending_enrollment.ts";
import { startFirstAdmin } from "./first_admin.ts";

const adminTarget = (id: string) => ({ type: "admin", id });

export type AccountService = Omit<IdentityService, keyof IdentityGuard | "stepUp" | "me" | "close">;

export function createAccountService(
  d: IdentityDeps,
  approvals: ApprovalService | undefined,
): AccountService {
  const { kv } = d;
  const needApprovals = (): ApprovalService => {
    if (!approvals) throw new Error("the identity service was built without approvals");
    return approvals;
  };
  const bearerHash = (authorization: string | undefined): string | null => {
    if (authorization) refuseSeveralCredentials(authorization);
    const token = authorization ? BEARER.exec(authorization)?.[1] : undefined;
    return token && API_TOKEN_FORMAT.test(token) ? sha256Hex(token) : null;
  };
  return {
    createAdmin: (ctx, input) => createAdmin(d, ctx, input),
    requestAccount: (ctx, input) => requestAccount(d, needApprovals(), ctx, input),
    enroll: (code, meta, proof) =>
      redeem(d, code.trim(), meta, {
        verifyOtp: async (adminId) => {
          const otp = proof.otp?.trim();
          if (!otp) {
            // with no second factor to send a code of, say what works instead
            if (!(await getSecondFactor(kv, adminId)).value) {
              throw await notEnrolled(kv, adminId, d.clock.now());
            }
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
    async rotateOwnToken(ctx, tokenHash) {
      try {
        return await rotateToken(d, ctx, ctx.actor.id, tokenHash);
      } catch (error) {
        // lost to a concurrent rotation of the same token (409): refused, audited
        await auditRefused(d, ctx, "token.rotate", adminTarget(ctx.actor.id), error);
        throw error;
      }
    },
    listAdmins: (opts) => listAdmins(d, opts),
    async getAdmin(id) {
      return adminView((await loadAdmin(d, id)).value);
    },
    async allAdmins() {
      return (await listAllAdmins(kv)).map(adminView);
    },
    async updateAdmin(ctx, id, change) {
      try {
        return await changeAdmin(ctx, id, change);
      } catch (error) {
        // a change refused (409: one already waits, not for a disabled account, lost to another
        // change) is audited denied, as a refused change of your own account is
        const action = change.role !== undefined
          ? "user.update"
          : change.status === "disabled"
          ? "user.disable"
          : "user.enable";
        await auditRefused(d, ctx, action, adminTarget(id), error);
        throw error;
      }
    },
    rotateToken: (ctx, id) => rotateToken(d, ctx, id),
    resetSecondFactor: (ctx, id) => resetSecondFactor(d, ctx, id),
    anyAdminExists: () => anyAdminExists(kv),
    startFirstAdmin: (input) => startFirstAdmin(d, input),
  };

  async function changeAdmin(
    ctx: Parameters<AccountService["updateAdmin"]>[0],
    id: string,
    change: Parameters<AccountService["updateAdmin"]>[2],
  ): ReturnType<AccountService["updateAdmin"]> {
    const role = change.role === undefined ? undefined : checkRole(change.role);
    // every decision below is made on this read: the commits that follow are checked against it
    const read = await loadAdmin(d, id);
    const before = read.value;
    // disabling or demoting an admin: at once, or waiting for a second admin (admin_removal.ts)
    if (removesAdmin(ctx, before, { role, status: change.status })) {
      return await removeAdmin(d, needApprovals(), ctx, read, { role, status: change.status });
    }
    // From the API, a role that can approve is granted by a second admin.
    const grant = ctx.actor.type === "admin" && role !== undefined && role !== before.role &&
      approvingRole(role) && !(role === "operator" && before.role === "admin");
    // ... and re-enabling a disabled account by a third person, unless nobody enrolled it and
    // the caller already held its code (judged on the account as it is now, reactivate.ts).
    const reactivate = await reactivationNeedsApproval(d, ctx, before, change.status);
    if (grant || reactivate) {
      await refuseSelf(d, ctx, id, "user.update", "change the role or status of");
    }
    const reRoled = role !== undefined && role !== before.role;
    if (grant && change.status === "disabled") {
      // a grant for an account this very request disables could only fail when approved
      throw new AppError(
        "conflict",
        `admin ${id}: disabling it and granting it ${role} in one request cannot both stand; ` +
          "send one of them",
      );
    }
    if (reactivate && reRoled) {
      throw new AppError(
        "conflict",
        `admin ${id} is disabled: ask for re-enabling it (a second admin approves) and for ` +
          "the role change separately",
      );
    }
    // a disabled account's role changes only with (or after) its re-enabling
    if (
      ctx.actor.type === "admin" && before.status === "disabled" && reRoled &&
      change.status !== "active"
    ) {
      throw new AppError(
        "conflict",
        `admin ${id} is disabled: re-enable it first, then change its role`,
      );
    }
    const direct = {
      ...change,
      ...(grant ? { role: undefined } : {}),
      ...(reactivate ? { status: undefined } : {}),
    };
    const changed = direct.role !== undefined || direct.status !== undefined
      ? await updateAdmin(d, ctx, id, direct, read.versionstamp)
      : null;
    // the request names the account as it is now (any later change voids it), and still as
    // judged above: a concurrent change in between is a conflict, never a request for another
    const now = grant || reactivate ? (changed ? await loadAdmin(d, id) : read) : null;
    if (
      now && changed &&
      (now.value.role !== changed.admin.role || now.value.status !== changed.admin.status)
    ) {
      throw changedMeanwhile(id);
    }
    const pending = grant
      ? await requestRoleGrant(d, needApprovals(), ctx, now!, role)
      : reactivate
      ? await requestReactivation(d, needApprovals(), ctx, now!)
      : null;
    return {
      admin: changed?.admin ?? adminView(before),
      pending_approval: pending,
      ...(changed?.handover ? { handover: changed.handover } : {}),
    };
  }
}
