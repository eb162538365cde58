/**
 * Identity: who is calling (bearer token), how often (throttle), whether
 * they may (permission table), and a fresh second factor where needed; plus
 * the admin accounts themselves. The guard in routes/admin_route.ts calls
 * the four `IdentityGuard` checks in that order.
 */
import type { Deps } from "../deps.ts";
import type { CallContext, RequestMeta } from "../../domain/actor.ts";
import type { Principal } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { can, PERMISSIONS, permissionsOf, type Role } from "../../domain/permissions.ts";
import { anyAdminExists, getAdmin, getTokenAndRateCount, listAllAdmins } from "../../kv/admins.ts";
import {
  countRequest,
  getRateCount,
  getSecondFactor,
  rateWindowKey,
  readRateCount,
} from "../../kv/identity_factors.ts";
import { API_TOKEN_FORMAT, hashToken, IdentityKeys } from "./crypto.ts";
import {
  createApiThrottle,
  DEFAULT_RATE_LIMITS,
  type PrefetchedCount,
  realFlushTimer,
  type ThrottleKind,
  throttleToken,
  windowOf,
} from "./throttle.ts";
import { systemClock } from "../../core/clock.ts";
import { sha256Hex } from "../../core/encoding.ts";
import { consumeCode } from "./second_factor.ts";
import { createStepUp, verifyStepUp } from "./step_up.ts";
import {
  type AdminCredentials,
  adminView,
  checkRole,
  createAdmin,
  type IdentityDeps,
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

/** failed authentications per client address a minute before it is refused */
export const AUTH_FAILURE_BURST = 30;
import type { IdentityOptions, IdentityService } from "./types.ts";

/** The acting admin as a `CallContext` (for audit entries written by the guard). */
export function principalContext(principal: Principal, meta: RequestMeta | null): CallContext {
  return {
    actor: { type: "admin", id: principal.admin_id, role: principal.role },
    request: meta,
    second_factor: principal.second_factor,
  };
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export function createIdentityService(deps: Deps, options: IdentityOptions): IdentityService {
  const { kv, clock } = deps;
  const limits = options.limits ?? {
    api: { ...DEFAULT_RATE_LIMITS.api, limit: deps.config.apiRateLimitPerMin ?? 120 },
    step_up: { ...DEFAULT_RATE_LIMITS.step_up, limit: deps.config.stepUpRateLimitPerMin ?? 10 },
  };
  const tokenTtlMs = (deps.config.apiTokenTtlDays ?? 90) * 24 * 3600_000;
  const d: IdentityDeps = {
    kv,
    clock,
    keys: new IdentityKeys(deps.config.auditSigningKey, deps.config.auditSigningKeys ?? []),
    audit: options.audit,
    cursors: options.cursors,
    newId: options.newId,
  };
  const needApprovals = (): ApprovalService => {
    if (!options.approvals) throw new Error("the identity service was built without approvals");
    return options.approvals;
  };
  if (options.approvals) registerAccountKinds(d, options.approvals);
  const bearerHash = (authorization: string | undefined): string | null => {
    const token = authorization ? BEARER.exec(authorization)?.[1] : undefined;
    return token && API_TOKEN_FORMAT.test(token) ? sha256Hex(token) : null;
  };
  // The API window's count, read with the token in authenticate() and used by throttle().
  const prefetched = new WeakMap<Principal, PrefetchedCount>();
  const apiThrottle = createApiThrottle(kv, clock, {
    limit: limits.api,
    flushEveryMs: options.throttleFlushEveryMs,
    timer: options.throttleFlushTimer !== undefined
      ? options.throttleFlushTimer
      : clock === systemClock
      ? realFlushTimer
      : null,
    onFlushError: (error) => deps.log.warn("API throttle flush failed", { error }),
  });
  // Token hash -> admin id, as the token index said. A hash names one issued token
  // for good, so this never goes stale; whether that token still works is decided
  // by the admin record, read on every request (rotation and disabling act at once).
  const adminIdByToken = new Map<string, string>();

  const failureWindow = () => Math.floor(clock.now() / 60_000);
  const addressKey = (meta: RequestMeta) => `addr:${meta.ip ?? "unknown"}`;

  return {
    async countFailedAuthentication(meta) {
      const window = failureWindow();
      await countRequest(kv, "auth_failures", addressKey(meta), window, false);
      const count = readRateCount(
        await getRateCount(kv, "auth_failures", addressKey(meta), window),
      );
      if (count <= AUTH_FAILURE_BURST) return;
      deps.log.warn("authentication failures throttled", { ip: meta.ip, failures: count });
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * 60_000 - clock.now()) / 1000));
      throw new AppError(
        "rate_limited",
        `too many failed authentications from your address; retry in ${retryAfter} s`,
        { retryAfter },
      );
    },

    async authenticate(authorization) {
      if (!authorization || authorization.trim() === "") {
        throw new AppError("unauthenticated", "send Authorization: Bearer <token>");
      }
      const token = BEARER.exec(authorization)?.[1];
      if (!token) {
        throw new AppError(
          "unauthenticated",
          "the Authorization header is not a bearer token: send `Authorization: Bearer pot_…` " +
            "with the token from `deno task admin create`",
        );
      }
      if (!API_TOKEN_FORMAT.test(token)) {
        throw new AppError(
          "unauthenticated",
          "unknown token: this service's tokens start with pot_ (from `deno task admin create`)",
        );
      }
      const tokenHash = await hashToken(token);
      let adminId = adminIdByToken.get(tokenHash) ?? null;
      let ahead: PrefetchedCount | undefined;
      if (adminId === null) {
        // First sight of this token here: the throttle will want its count too.
        const window = windowOf(limits.api, clock.now());
        const read = await getTokenAndRateCount(
          kv,
          tokenHash,
          rateWindowKey("api", tokenHash, window),
        );
        adminId = read.adminId;
        ahead = { window, count: readRateCount(read.rate) };
      }
      const admin = adminId ? (await getAdmin(kv, adminId)).value : null;
      // The admin record names its one current token: a rotated token is unknown at once.
      if (!admin || admin.token_hash !== tokenHash) {
        adminIdByToken.delete(tokenHash);
        throw new AppError(
          "unauthenticated",
          "unknown token: it was rotated, revoked or never issued",
        );
      }
      if (admin.status !== "active") {
        throw new AppError("unauthenticated", "this admin account is disabled");
      }
      const issued = Date.parse(admin.token_issued_at ?? admin.created_at);
      if (issued + tokenTtlMs <= clock.now()) {
        throw new AppError(
          "unauthenticated",
          `this token expired (API_TOKEN_TTL_DAYS after ${
            new Date(issued).toISOString()
          }); rotate it before it expires with POST /api/admin/me/rotate-token, or ask an admin`,
        );
      }
      if (!adminIdByToken.has(tokenHash)) {
        if (adminIdByToken.size >= 10_000) adminIdByToken.clear();
        adminIdByToken.set(tokenHash, admin.id);
      }
      const principal: Principal = {
        admin_id: admin.id,
        role: admin.role,
        email: admin.email,
        token_hash: tokenHash,
        second_factor: false,
      };
      if (ahead) prefetched.set(principal, ahead);
      return principal;
    },

    throttle(principal, kind: ThrottleKind) {
      if (kind !== "api") return throttleToken(kv, clock, limits, kind, principal.admin_id);
      const ahead = prefetched.get(principal);
      prefetched.delete(principal);
      return apiThrottle.check(principal.token_hash, ahead);
    },

    async authorize(principal, permission, meta) {
      if (can(principal.role, permission)) return;
      const roles = PERMISSIONS[permission];
      await d.audit.record(principalContext(principal, meta), {
        action: "auth.forbidden",
        target: { type: "permission", id: permission },
        result: "denied",
        reason: `role ${principal.role} lacks ${permission}`,
      });
      throw new AppError(
        "forbidden",
        `your role (${principal.role}) lacks the permission ${permission}; roles that have it: ${
          roles.join(", ")
        }`,
        { extra: { permission, roles: [...roles] } },
      );
    },

    async verifySecondFactor(principal, factor, meta) {
      const ctx = principalContext(principal, meta);
      const otp = factor.otp?.trim() || undefined;
      const stepUp = factor.stepUp?.trim() || undefined;
      if (!otp && !stepUp) {
        throw new AppError(
          "otp_required",
          "this operation needs a second factor: send X-OTP-Code with a current code, " +
            "or X-Step-Up with a token from POST /api/admin/step-up",
        );
      }
      if (stepUp) {
        try {
          return await verifyStepUp(d, ctx, principal.token_hash, stepUp);
        } catch (e) {
          // A stale step-up token with a fresh code still gets through on the code.
          if (!otp || !(e instanceof AppError) || e.code !== "step_up_expired") throw e;
        }
      }
      await consumeCode(d, ctx, otp!, "header.x-otp-code");
    },

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
    close: () => apiThrottle.close(),
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
