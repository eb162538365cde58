/** Builds every service from the deps once; routes receive this object. */
import type { Deps } from "./deps.ts";
import { createHealthService } from "./health.ts";
import { CursorSealer } from "../kv/pagination.ts";
import { createIdFactory } from "../kv/ids.ts";
import type { Principal } from "../routes/env.ts";
import type { RequestMeta } from "./context.ts";
import type { Permission } from "./permissions.ts";

/** PLACEHOLDER until services/identity lands: the guard's four checks. */
export interface IdentityGuard {
  authenticate(authorization: string | undefined, meta: RequestMeta): Promise<Principal>;
  throttle(principal: Principal, kind: "api" | "step_up"): Promise<void>;
  authorize(principal: Principal, permission: Permission, meta: RequestMeta): Promise<void>;
  verifySecondFactor(
    principal: Principal,
    factor: { otp?: string; stepUp?: string },
    meta: RequestMeta,
  ): Promise<void>;
}

export function createServices(deps: Deps) {
  const cursors = new CursorSealer(deps.config.auditSigningKey);
  const newId = createIdFactory(deps.clock);
  return {
    deps,
    cursors,
    newId,
    health: createHealthService(deps),
    identity: undefined as unknown as IdentityGuard,
  };
}

export type Services = ReturnType<typeof createServices>;
