/**
 * POST /api/admin/enroll (no bearer token: the enrollment code is the
 * credential). The person receives their own token and second factor once;
 * a credential reset's code also asks for their other factor.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { requestMeta } from "./context.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi/schemas.ts";
import { AdminSchema } from "../openapi/record_schemas.ts";
import type { Services } from "../services/mod.ts";
import { AppError } from "../core/errors.ts";
import { countsAgainstAddress } from "../services/identity/mod.ts";
import { DEFAULT_BODY_LIMIT, gateBody, type RequestSchemas } from "./body_gate.ts";
import { IF_MATCH_NOT_TAKEN, ifMatchRefusal } from "./if_match.ts";
import { knownNames, refuseUnknownNames } from "./unknown_fields.ts";

const DEFAULT_RULE = { types: ["application/json"], limit: DEFAULT_BODY_LIMIT };

const Enrolled = z.object({
  admin: AdminSchema,
  token: z.string().optional().openapi({ description: "API token: shown once" }),
  totp_secret: z.string().optional().openapi({ description: "base32 TOTP secret: shown once" }),
  otpauth_uri: z.string().optional(),
  recovery_codes: z.array(z.string()).optional().openapi({
    description: "8 single-use codes (`xxxx-xxxx`) usable in X-OTP-Code: shown once",
  }),
}).openapi("Enrolled");

const enroll = createRoute({
  method: "post",
  path: "/enroll",
  tags: ["identity"],
  summary: "Redeem an enrollment code for your own credentials (shown once)",
  description: "A new account's code returns a token, TOTP secret and recovery codes. After a " +
    "token rotation, send your current TOTP code in `X-OTP-Code`; after a second-factor reset, " +
    "send your current token in `Authorization`. Each code works once: a code redeemed already " +
    "(a second click too) is 401 `enrollment_invalid` saying when (`redeemed_at`), since the " +
    "credentials were shown once, in the answer that redeemed it; it does not count against " +
    "your address. The first admin of a store with none, made at start-up from " +
    "`FIRST_ADMIN_EMAIL`, redeems `FIRST_ADMIN_ENROLLMENT_CODE` here.\n\n" +
    "The example code is a placeholder for the one you were handed: no example can be both " +
    "right and harmless. Sent unchanged it is refused as unknown (401 `enrollment_invalid`) " +
    "and counted against your address like any failed code (past 30 a minute, 429).",
  parameters: [IF_MATCH_NOT_TAKEN],
  request: {
    body: jsonBody(
      z.object({
        code: z.string().min(1, "send the enrollment code").max(100).openapi({
          example: "enr_Xq3v9Lk2Pz8Rt6Wn4Bc7Md1Hs5Fj0Ga2",
        }),
      }).strict(),
    ),
  },
  responses: {
    200: jsonContent(Enrolled, "your credentials; they are not shown again"),
    ...errorResponses(
      "enrollment_invalid",
      "unauthenticated",
      "otp_required",
      "otp_invalid",
      "otp_replayed",
      "otp_locked",
      "rate_limited",
      "payload_too_large",
      "unsupported_media_type",
    ),
  },
});

export function enrollRoutes(services: Services) {
  const router = createRouter();
  // no bearer token here: the body gate and the per-address failure count come first
  // ... and, as on every admin route, unknown fields and parameters are refused first
  const known = knownNames(enroll.request);
  const refuse = ifMatchRefusal(enroll);
  router.use(
    "/enroll",
    (c, next) =>
      gateBody(c, { ...DEFAULT_RULE, required: true })
        .then(() => refuseUnknownNames(c, known, enroll.request as RequestSchemas, { refuse }))
        .then(next),
  );
  return router.openapi(enroll, async (c) => {
    const meta = requestMeta(c);
    // a throttled address is refused before its code is looked at (README, "Inputs and headers")
    await services.identity.checkAddress(meta);
    const result = await services.identity.enroll(c.req.valid("json").code, meta, {
      otp: c.req.header("x-otp-code"),
      authorization: c.req.header("authorization"),
    }).catch(async (e) => {
      // a redeemed code is no guess (README, "Accounts and enrollment"): only wrong ones count
      if (e instanceof AppError && countsAgainstAddress(e)) {
        await services.identity.countFailedAuthentication(meta);
      }
      throw e;
    });
    c.header("Cache-Control", "no-store");
    return c.json(result, 200);
  });
}
