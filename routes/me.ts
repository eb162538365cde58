/** GET /me (mounted under /api/admin): who am I, my role, my permissions, my second factor. */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { callContext } from "./context.ts";
import { DateTimeSchema, errorResponses, jsonContent } from "../openapi/schemas.ts";
import { AdminSchema } from "../openapi/record_schemas.ts";
import type { Services } from "../services/mod.ts";

const MeSchema = AdminSchema.extend({
  permissions: z.array(z.string()).openapi({ example: ["me.read", "refunds.read"] }),
  second_factor: z.object({
    enrolled: z.boolean(),
    enrolled_at: DateTimeSchema.nullable(),
    locked_until: DateTimeSchema.nullable().openapi({
      description: "set while locked after repeated wrong codes",
    }),
    recovery_codes_remaining: z.number().int(),
  }),
}).openapi("Me");

const me = adminRoute({ permission: "me.read" }, {
  method: "get",
  path: "/me",
  tags: ["identity"],
  summary: "The calling admin: role, permissions and second-factor status",
  responses: { 200: jsonContent(MeSchema, "you") },
});

const rotateOwn = adminRoute({
  permission: "me.rotate_token",
  secondFactor: true,
  ownTokenRotation: true,
}, {
  method: "post",
  path: "/me/rotate-token",
  tags: ["identity"],
  summary: "A new API token for yourself; the old one stops at once",
  description: "Sending this acts at once: it takes no input, so Try it out rotates your own " +
    "token: the one Authorize holds is 401 from then on, and the new one is in the answer, " +
    "shown once (paste it into Authorize). " +
    "Tokens expire API_TOKEN_TTL_DAYS after they were issued: rotate before then. " +
    "Of concurrent rotations of the same token (a second click, another tab) one wins; the " +
    "others are 409 saying when the token was rotated (`rotated_at`; the new token is shown " +
    "once, in the winner's answer) and issue nothing: those that lost in the rotation's own " +
    "commit, and those whose token was already rotated when they were judged, if they arrived " +
    "no more than 10 s after the rotation. Sent later, the old token is 401 here, and on any " +
    "other route it is 401 whenever it arrives.",
  responses: {
    200: jsonContent(
      z.object({ admin: AdminSchema, token: z.string() }).openapi("RotatedToken"),
      "your new token, shown once",
    ),
    ...errorResponses("conflict"),
  },
});

export function meRoutes(services: Services) {
  return createRouter()
    .openapi(me, async (c) => {
      return c.json(await services.identity.me(c.get("principal")!), 200);
    })
    .openapi(rotateOwn, async (c) => {
      const result = await services.identity.rotateOwnToken(
        callContext(c),
        c.get("principal")!.token_hash,
      );
      c.header("Cache-Control", "no-store");
      return c.json(result, 200);
    });
}
