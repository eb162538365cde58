/**
 * The guard's four checks (routes/admin_route.ts calls them in this order):
 * who is calling (bearer token), how often (throttle), whether they may
 * (permission table), and a fresh second factor where needed; plus the
 * per-address count of failed authentications.
 */
import type { Deps } from "../deps.ts";
import type { CallContext, Principal, RequestMeta } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { can, PERMISSIONS } from "../../domain/permissions.ts";
import { getAdmin, getTokenAndRateCount } from "../../kv/admins.ts";
import {
  countRequest,
  getRateCount,
  rateWindowKey,
  readRateCount,
} from "../../kv/identity_factors.ts";
import { API_TOKEN_FORMAT, hashToken } from "./crypto.ts";
import {
  type ApiThrottle,
  type PrefetchedCount,
  type RateLimits,
  type ThrottleKind,
  throttleToken,
  windowOf,
} from "./throttle.ts";
import { consumeCode } from "./second_factor.ts";
import { verifyStepUp } from "./step_up.ts";
import type { IdentityDeps } from "./accounts.ts";
import type { IdentityGuard } from "./types.ts";

/** failed authentications per client address a minute before it is refused */
export const AUTH_FAILURE_BURST = 30;

export const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The acting admin as a `CallContext` (for audit entries written by the guard). */
export function principalContext(principal: Principal, meta: RequestMeta | null): CallContext {
  return {
    actor: { type: "admin", id: principal.admin_id, role: principal.role },
    request: meta,
    second_factor: principal.second_factor,
  };
}

export interface GuardParts {
  d: IdentityDeps;
  log: Deps["log"];
  limits: RateLimits;
  tokenTtlMs: number;
  apiThrottle: ApiThrottle;
}

/** The bearer token's shape checks, before any KV read. */
function bearerToken(authorization: string | undefined): string {
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
  return token;
}

export function createGuard(parts: GuardParts): IdentityGuard {
  const { d, log, limits, tokenTtlMs, apiThrottle } = parts;
  const { kv, clock } = d;
  // The API window's count, read with the token in authenticate() and used by throttle().
  const prefetched = new WeakMap<Principal, PrefetchedCount>();
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
      log.warn("authentication failures throttled", { ip: meta.ip, failures: count });
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * 60_000 - clock.now()) / 1000));
      throw new AppError(
        "rate_limited",
        `too many failed authentications from your address; retry in ${retryAfter} s`,
        { retryAfter },
      );
    },

    async authenticate(authorization) {
      const token = bearerToken(authorization);
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
  };
}
