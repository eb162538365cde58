/**
 * POST /step-up (mounted under /api/admin): trade one TOTP code (or a recovery code) for a
 * short-lived token that stands in for `X-OTP-Code` on a run of operations,
 * for this admin and this bearer token only. Throttled harder than the API.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { requestMeta } from "./context.ts";
import { DateTimeSchema, errorResponses, jsonBody, jsonContent } from "../openapi/schemas.ts";
import type { Services } from "../services/mod.ts";

const StepUp = z.object({
  step_up_token: z.string().openapi({ description: "send as X-Step-Up" }),
  expires_at: DateTimeSchema,
}).openapi("StepUpToken");

const stepUp = adminRoute({ permission: "step_up.create" }, {
  method: "post",
  path: "/step-up",
  tags: ["identity"],
  summary: "Exchange a TOTP code for a step-up token",
  description: "The token is valid for `STEP_UP_TTL_S` seconds, for the calling admin and " +
    "bearer token only. The code is consumed like any other.\n\n" +
    "The example `123456` is a placeholder for your authenticator's current code (or a " +
    "recovery code): no example can be both right and harmless. Sent unchanged it is a wrong " +
    "code like any other: 401 `otp_invalid`, audited, and one of the 5 tries before the second " +
    "factor locks for 15 minutes.",
  request: {
    body: jsonBody(
      z.object({
        code: z.string().min(1, "send the 6-digit code").max(32).openapi({
          example: "123456",
        }),
      }).strict(),
    ),
  },
  responses: {
    200: jsonContent(StepUp, "issued"),
    ...errorResponses("otp_invalid", "otp_replayed", "otp_locked"),
  },
});

export function stepUpRoutes(services: Services) {
  return createRouter().openapi(stepUp, async (c) => {
    const issued = await services.identity.stepUp(
      c.get("principal")!,
      c.req.valid("json").code,
      requestMeta(c),
    );
    c.header("Cache-Control", "no-store");
    return c.json(issued, 200);
  });
}
