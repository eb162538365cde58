/**
 * Step-up ("sudo mode"): one code traded for a token that stands in for
 * `X-OTP-Code` until it expires, for the admin and bearer token it was issued
 * to only. A second-factor reset revokes it (it names the enrolment).
 */
import type { AttemptedRequest, CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { hashToken, newStepUpToken, STEP_UP_TOKEN_FORMAT } from "./crypto.ts";
import { consumeCode, naming, type SecondFactorDeps } from "./second_factor.ts";
import {
  addCreateStepUp,
  getStepUpWithFactor,
  type StepUpRecord,
} from "../../kv/identity_factors.ts";

/** Issues a step-up token bound to this admin and this bearer token, consuming `code`. */
export async function createStepUp(
  d: SecondFactorDeps,
  ctx: CallContext,
  bearerTokenHash: string,
  code: string,
  ttlS: number,
): Promise<{ step_up_token: string; expires_at: string }> {
  const token = newStepUpToken();
  const tokenHash = await hashToken(token);
  const issued = await consumeCode(d, ctx, code, "body.code", (op, factor) => {
    const now = d.clock.now();
    const record: StepUpRecord = {
      admin_id: ctx.actor.id,
      token_hash: bearerTokenHash,
      enrolment_id: factor.enrolment_id,
      expires_at: now + ttlS * 1000,
    };
    addCreateStepUp(op, tokenHash, record, ttlS * 1000);
    const expiresAt = new Date(record.expires_at).toISOString();
    return Promise.resolve({
      value: expiresAt,
      audit: [{
        action: "auth.step_up",
        target: { type: "admin", id: ctx.actor.id },
        result: "ok",
        after: { expires_at: expiresAt },
      }],
    });
  });
  return { step_up_token: token, expires_at: issued! };
}

/** Accepts `X-Step-Up` only for the admin and bearer token it was issued to, before it expires. */
export async function verifyStepUp(
  d: SecondFactorDeps,
  ctx: CallContext,
  bearerTokenHash: string,
  stepUp: string,
  attempted?: AttemptedRequest,
): Promise<void> {
  if (!STEP_UP_TOKEN_FORMAT.test(stepUp)) {
    throw new AppError(
      "step_up_expired",
      "X-Step-Up is not a step-up token; get one from POST /api/admin/step-up",
      {
        errors: [{
          path: "header.x-step-up",
          message: "expected psu_… from POST /api/admin/step-up",
        }],
      },
    );
  }
  const { stepUp: g, factor } = await getStepUpWithFactor(
    d.kv,
    await hashToken(stepUp),
    ctx.actor.id,
  );
  if (g && (g.admin_id !== ctx.actor.id || g.token_hash !== bearerTokenHash)) {
    const [entry] = naming([{
      action: "auth.step_up_refused",
      target: { type: "admin", id: ctx.actor.id },
      result: "denied",
      reason: "step-up token presented by another admin or with another bearer token",
    }], attempted);
    await d.audit.record(ctx, entry);
    throw new AppError(
      "step_up_expired",
      "this step-up token was issued to another admin or bearer token; step up again",
    );
  }
  if (!g || g.expires_at <= d.clock.now() || g.enrolment_id !== factor?.enrolment_id) {
    throw new AppError(
      "step_up_expired",
      "the step-up token has expired or was revoked; POST /api/admin/step-up with a fresh code",
    );
  }
}
