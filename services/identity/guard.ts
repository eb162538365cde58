/**
 * The guard's four checks (routes/admin_route.ts calls them in this order):
 * who is calling (bearer token), how often (throttle), whether they may
 * (permission table), and a fresh second factor where needed; plus the
 * per-address count of failed authentications.
 */
import type { Deps } from "../deps.ts";
import type { CallContext, Principal, RequestMeta } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { createCoalescer } from "../../core/coalesce.ts";
import { can, PERMISSIONS } from "../../domain/permissions.ts";
import { countOneMore, getRateCount, readRateCount } from "../../kv/identity_factors.ts";
import { createKeyedLock } from "../../core/keyed_lock.ts";
import { type ApiThrottle, type RateLimits, type ThrottleKind, throttleToken } from "./throttle.ts";
import { consumeCode } from "./second_factor.ts";
import { verifyStepUp } from "./step_up.ts";
import { createAuthenticator, rotatedOwnToken } from "./authenticate.ts";
import type { IdentityDeps } from "./accounts.ts";
import type { AuthOptions, IdentityGuard } from "./types.ts";
import { getAdmin } from "../../kv/admins.ts";
import { lostRotation as lostRotationError, ROTATION_MOMENT_MS } from "./credentials.ts";
import { auditRefused } from "./refusals.ts";

/** failed authentications per client address a minute before it is refused */
export const AUTH_FAILURE_BURST = 30;

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

export function createGuard(parts: GuardParts): IdentityGuard {
  const { d, log, limits, tokenTtlMs, apiThrottle } = parts;
  const { kv, clock } = d;
  const authenticator = createAuthenticator(d, limits, tokenTtlMs);

  const failureWindow = () => Math.floor(clock.now() / 60_000);
  const addressKey = (meta: RequestMeta) => `addr:${meta.ip ?? "unknown"}`;
  // concurrent requests from one address share one read of its failure count
  const failureReads = createCoalescer<number>();

  /** Past the burst the address is refused until the minute ends (README, "Inputs and headers"). */
  function refuseAddress(meta: RequestMeta, window: number, count: number): AppError {
    log.warn("authentication failures throttled", { ip: meta.ip, failures: count });
    const retryAfter = Math.max(1, Math.ceil(((window + 1) * 60_000 - clock.now()) / 1000));
    return new AppError(
      "rate_limited",
      `more than ${AUTH_FAILURE_BURST} failed authentications (wrong tokens or enrollment ` +
        `codes) from your address this minute; check the token or code you send, and retry in ` +
        `${retryAfter} s`,
      { retryAfter },
    );
  }

  async function checkAddress(meta: RequestMeta): Promise<void> {
    const window = failureWindow();
    const key = addressKey(meta);
    const count = await failureReads.read(
      `${key}|${window}`,
      async () => readRateCount(await getRateCount(kv, "auth_failures", key, window)),
    );
    if (count > AUTH_FAILURE_BURST) throw refuseAddress(meta, window, count);
  }

  // one address's failures are counted one after the other in this isolate (no retry storm);
  // across isolates the compare-and-set keeps the count exact
  const failureLock = createKeyedLock();

  /**
   * Each failure learns its own place in the minute's count (a compare-and-set),
   * so of a burst exactly AUTH_FAILURE_BURST are answered 401 and the rest 429.
   */
  async function countFailedAuthentication(meta: RequestMeta): Promise<void> {
    const window = failureWindow();
    const key = addressKey(meta);
    const place = await failureLock(key, () => countOneMore(kv, "auth_failures", key, window));
    // null: contention outlasted the retries; refusing is the safe answer
    const count = place ?? AUTH_FAILURE_BURST + 1;
    if (count > AUTH_FAILURE_BURST) throw refuseAddress(meta, window, count);
  }

  /**
   * On the route that rotates one's own token, an unknown token its admin rotated there moments
   * before this request arrived: the 409 of a concurrent rotation that lost (the old token acts
   * on nothing), audited denied as that loser is (README, "Accounts and enrollment"). Null
   * otherwise: the 401 stands.
   */
  async function lostRotation(
    error: unknown,
    authorization: string | undefined,
    meta: RequestMeta,
    options: AuthOptions | undefined,
  ): Promise<AppError | null> {
    if (!options?.ownRotation || !(error instanceof AppError)) return null;
    if (error.code !== "unauthenticated") return null;
    const row = await rotatedOwnToken(kv, authorization);
    if (!row || Date.parse(row.rotated_at) + ROTATION_MOMENT_MS < options.ownRotation.arrivedAt) {
      return null;
    }
    const admin = (await getAdmin(kv, row.admin_id)).value;
    if (admin?.status !== "active") return null;
    const lost = lostRotationError(admin.id, row.rotated_at);
    const ctx: CallContext = {
      actor: { type: "admin", id: admin.id, role: admin.role },
      request: meta,
      second_factor: false,
    };
    await auditRefused(d, ctx, "token.rotate", { type: "admin", id: admin.id }, lost);
    return lost;
  }

  return {
    countFailedAuthentication,
    checkAddress,

    async authenticate(authorization, meta, options) {
      try {
        return await authenticator.authenticate(authorization);
      } catch (e) {
        throw await lostRotation(e, authorization, meta, options) ?? e;
      }
    },

    async authenticateRequest(authorization, meta, options) {
      // the token is looked up while the address's state is read; a refused address wins
      const principal = authenticator.authenticate(authorization);
      principal.catch(() => {});
      await checkAddress(meta);
      try {
        return await principal;
      } catch (e) {
        if (e instanceof AppError && e.code === "unauthenticated") {
          // a rotation of one's own token that lost to a concurrent one is told, not counted
          const lost = await lostRotation(e, authorization, meta, options);
          if (lost) throw lost;
          await countFailedAuthentication(meta);
        }
        throw e;
      }
    },

    throttle(principal, kind: ThrottleKind) {
      if (kind !== "api") return throttleToken(kv, clock, limits, kind, principal.admin_id);
      return apiThrottle.check(principal.token_hash, authenticator.takePrefetched(principal));
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
          return await verifyStepUp(d, ctx, principal.token_hash, stepUp, factor.attempted);
        } catch (e) {
          // A stale step-up token with a fresh code still gets through on the code.
          if (!otp || !(e instanceof AppError) || e.code !== "step_up_expired") throw e;
        }
      }
      await consumeCode(d, ctx, otp!, "header.x-otp-code", undefined, factor.attempted);
    },
  };
}
