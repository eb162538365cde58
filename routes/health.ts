/** GET /healthz (liveness: 200 while the process runs, a stop included) and GET /readyz (KV reachable, not stopping). */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { errorResponses, jsonContent } from "../openapi/schemas.ts";
import type { Services } from "../services/mod.ts";

const Liveness = z.object({ ok: z.literal(true) }).openapi("Liveness");
const Readiness = z.object({
  ok: z.boolean(),
  checks: z.object({
    kv: z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional() }),
  }),
}).openapi("Readiness");

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["health"],
  summary: "Liveness: the process answers",
  responses: {
    // also while the server stops: the process is alive until it exits (README, "Quick start")
    200: jsonContent(Liveness, "alive, also while the server stops"),
  },
});

const readyz = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["health"],
  summary: "Readiness: KV is reachable and the server is not stopping",
  responses: {
    200: jsonContent(Readiness, "ready"),
    503: {
      description: "not ready: `checks` says what failed; or `unavailable` (problem+json) while " +
        "the service is stopping",
      content: {
        ...jsonContent(Readiness, "").content,
        ...errorResponses("unavailable")[503].content,
      },
    },
  },
});

export function healthRoutes(services: Services) {
  return createRouter()
    .openapi(healthz, (c) => c.json({ ok: true as const }, 200))
    .openapi(readyz, async (c) => {
      const r = await services.health.readiness();
      return r.ok ? c.json(r, 200) : c.json(r, 503);
    });
}
