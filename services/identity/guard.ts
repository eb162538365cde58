/**
 * The guard the routes' middleware runs on every admin request
 * (routes/admin_route.ts), in this order: who is calling (bearer token), how
 * often (throttle), whether they may (permission table), and a fresh second
 * factor where the route needs one.
 */
import type { Deps } from "../deps.ts";
import type { CallContext, Principal, RequestMeta } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { can, type Permission, PERMISSIONS } from "../../domain/permissions.ts";
import { getAdmin, getTokenAndRateCount } from "../../kv/admins.ts";
import { rateWindowKey, readRateCount } from "../../kv/identity_factors.ts";
import { API_TOKEN_FORMAT, hashToken, IdentityKeys } from "./crypto.ts";
import {
  createApiThrottle,
  DEFAULT_RATE_LIMITS,
  type FlushTimer,
  type PrefetchedCount,
  type RateLimits,
  realFlushTimer,
  type ThrottleKind,
  throttleToken,
  windowOf,
} from "./throttle.ts";
import { systemClock } from "../../core/clock.ts";
import { sha256Hex } from "../../core/encoding.ts";
import { consumeCode } from "./second_factor.ts";
import { verifyStepUp } from "./step_up.ts";
import type { IdentityDeps } from "./users.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CursorSealer } from "../../kv/pagination.ts";
import type { IdFactory } from "../../core/ids.ts";

/** The acting admin as a `CallContext` (for audit entries written by the guard). */
export function principalContext(principal: Principal, meta: RequestMeta | null): CallContext {
  return {
    actor: { type: "admin", id: principal.admin_id, role: principal.role },
    request: meta,
    second_factor: principal.second_factor,
  };
}

export const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** What the guard keeps between requests. */
export interface GuardState {
  kv: Deno.Kv;
  clock: Deps["clock"];
  d: IdentityDeps;
  limits: RateLimits;
  tokenTtlMs: number;
  /** the API window's count, read with the token in authenticate() and used by throttle() */
  prefetched: WeakMap<Principal, PrefetchedCount>;
  apiThrottle: ReturnType<typeof createApiThrottle>;
  /**
   * Token hash -> admin id, as the token index said. A hash names one issued token
   * for good, so this never goes stale; whether that token still works is decided
   * by the admin record, read on every request (rotation and disabling act at once).
   */
  adminIdByToken: Map<string, string>;
}

/** The parts of the identity options the guard reads. */
export interface GuardOptions {
  audit: AuditService;
  cursors: CursorSealer;
  newId: IdFactory;
  limits?: RateLimits;
  throttleFlushEveryMs?: number;
  throttleFlushTimer?: FlushTimer | null;
}

export function createGuardState(deps: Deps, options: GuardOptions): GuardState {
  const { kv, clock } = deps;
  const limits = options.limits ?? {
    api: { ...DEFAULT_RATE_LIMITS.api, limit: deps.config.apiRateLimitPerMin ?? 120 },
    step_up: { ...DEFAULT_RATE_LIMITS.step_up, limit: deps.config.stepUpRateLimitPerMin ?? 10 },
  };
  const d: IdentityDeps = {
    kv,
    clock,
    keys: new IdentityKeys(deps.config.auditSigningKey, deps.config.auditSigningKeys ?? []),
    audit: options.audit,
    cursors: options.cursors,
    newId: options.newId,
  };
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
  return {
    kv,
    clock,
    d,
    limits,
    tokenTtlMs: (deps.config.apiTokenTtlDays ?? 90) * 24 * 3600_000,
    prefetched: new WeakMap(),
    apiThrottle,
    adminIdByToken: new Map(),
  };
}

export function bearerHash(authorization: string | undefined): string | null {
  const token = authorization ? BEARER.exec(authorization)?.[1] : undefined;
  return token && API_TOKEN_FORMAT.test(token) ? sha256Hex(token) : null;
}

/** The token of an `Authorization: Bearer pot_…` header, or a problem saying what is wrong. */
function bearerToken(authorization: string | undefined): string {
  if (!authorization || authorization.trim() === "") {
    throw new AppError("unauthenticated", "send Authorization: Bearer <token>");
  }
  const token = BEARER.exec(authorization!)?.[1];
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

/** Who is calling: the bearer token's admin, active and within the token's lifetime. */
export async function authenticate(
  g: GuardState,
  authorization: string | undefined,
): Promise<Principal> {
  const { kv, clock, limits, tokenTtlMs, adminIdByToken } = g;
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
  if (ahead) g.prefetched.set(principal, ahead);
  return principal;
}

export function throttle(g: GuardState, principal: Principal, kind: ThrottleKind): Promise<void> {
  const { kv, clock, limits, prefetched, apiThrottle } = g;
  if (kind !== "api") return throttleToken(kv, clock, limits, kind, principal.admin_id);
  const ahead = prefetched.get(principal);
  prefetched.delete(principal);
  return apiThrottle.check(principal.token_hash, ahead);
}

export async function authorize(
  g: GuardState,
  principal: Principal,
  permission: Permission,
  meta: RequestMeta,
): Promise<void> {
  if (can(principal.role, permission)) return;
  const roles = PERMISSIONS[permission];
  await g.d.audit.record(principalContext(principal, meta), {
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
}

export async function verifySecondFactor(
  g: GuardState,
  principal: Principal,
  factor: { otp?: string; stepUp?: string },
  meta: RequestMeta,
): Promise<void> {
  const { d } = g;
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
}
