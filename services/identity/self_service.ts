/** The caller's own view: GET /api/admin/me and POST /api/admin/step-up. */
import { getSecondFactor } from "../../kv/identity_factors.ts";
import { permissionsOf } from "../../domain/permissions.ts";
import { createStepUp } from "./step_up.ts";
import { type RateLimits, throttleToken } from "./throttle.ts";
import { adminView, type IdentityDeps, loadAdmin } from "./accounts.ts";
import { principalContext } from "./guard.ts";
import type { IdentityService } from "./types.ts";

export function createSelfService(
  d: IdentityDeps,
  limits: RateLimits,
  stepUpTtlS: number,
): Pick<IdentityService, "stepUp" | "me"> {
  const { kv, clock } = d;
  return {
    async stepUp(principal, code, meta) {
      // per admin, not per token: a second token would not buy more guesses
      await throttleToken(kv, clock, limits, "step_up", principal.admin_id);
      return await createStepUp(
        d,
        principalContext(principal, meta),
        principal.token_hash,
        code.trim(),
        stepUpTtlS,
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
  };
}
