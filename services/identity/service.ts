/**
 * Identity: who is calling (bearer token), how often (throttle), whether
 * they may (permission table), and a fresh second factor where needed; plus
 * the admin accounts themselves. This file puts the parts together: the
 * guard's four checks (guard.ts), the caller's own view and step-up
 * (self_service.ts), and account management (account_service.ts).
 */
import type { Deps } from "../deps.ts";
import { AppError } from "../../core/errors.ts";
import type { Role } from "../../domain/permissions.ts";
import { IdentityKeys } from "./crypto.ts";
import { createApiThrottle, DEFAULT_RATE_LIMITS, realFlushTimer } from "./throttle.ts";
import { systemClock } from "../../core/clock.ts";
import { systemContext } from "../../domain/actor.ts";
import { DEMO_ACTOR } from "../../domain/system_actors.ts";
import type { AdminCredentials, IdentityDeps } from "./users.ts";
import { registerAccountKinds } from "./invites.ts";
import { createGuard } from "./guard.ts";
import { createSelfService } from "./self_service.ts";
import { createAccountService } from "./account_service.ts";
import type { IdentityOptions, IdentityService } from "./types.ts";
import { adminCliLine } from "../../core/store_command.ts";

export type { AdminChange, AdminCredentials, AdminView } from "./users.ts";
export type { AccountRequestResult } from "./invites.ts";
export type { Redeemed } from "./enrollment.ts";
export type { FirstAdminInput, FirstAdminOutcome } from "./first_admin.ts";

export type { IdentityGuard, IdentityOptions, IdentityService, Me } from "./types.ts";

export { AUTH_FAILURE_BURST, principalContext } from "./guard.ts";

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
    log: deps.log,
    onDisabled: options.onAccountDisabled,
    entriesAbout: options.approvals?.entriesAbout,
    storeReachedByCli: deps.config.kvPath !== undefined && deps.config.kvPath !== ":memory:",
    cliLine: (args) => adminCliLine(deps.config.kvPath, args),
  };
  if (options.approvals) registerAccountKinds(d, options.approvals);
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
    ...createGuard({ d, log: deps.log, limits, tokenTtlMs, apiThrottle }),
    ...createSelfService(d, limits, deps.config.stepUpTtlS),
    ...createAccountService(d, options.approvals),
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
      systemContext(DEMO_ACTOR),
      { email, role: "admin" satisfies Role },
    );
  } catch (e) {
    if (e instanceof AppError && e.code === "conflict") return null;
    throw e;
  }
}
