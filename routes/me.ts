/** GET /me (mounted under /api/admin): who am I, my role, my permissions, my second factor. */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { jsonContent } from "../openapi/schemas.ts";
import { AdminSchema } from "../openapi/schemas.ts";
import type { Services } from "../services/mod.ts";

const MeSchema = AdminSchema.extend({
  permissions: z.array(z.string()).openapi({ example: ["me.read", "refunds.read"] }),
  second_factor: z.object({
    enrolled: z.boolean(),
    enrolled_at: z.string().nullable(),
    locked_until: z.string().nullable().openapi({
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

export function meRoutes(services: Services) {
  return createRouter().openapi(me, async (c) => {
    return c.json(await services.identity.me(c.get("principal")!), 200);
  });
}
