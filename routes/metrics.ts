/**
 * GET /metrics: Prometheus text format. Readable with the `METRICS_TOKEN`
 * bearer (a scraper needs no admin account) or an admin's API token; the
 * OpenAPI document says so (`metricsToken` or `bearerAuth`).
 * Failed authentications count against the address as on admin routes, and
 * an admin's token is throttled like any admin request (README, "Metrics").
 */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { AppError } from "../core/errors.ts";
import { requestMeta } from "./context.ts";
import { problemResponses } from "../openapi/schemas.ts";
import { DeadlineExceeded, within } from "../core/deadline.ts";
import { isKvUnavailable, KV_PROBE_MS } from "../services/health.ts";

const BEARER = /^Bearer\s+(\S+)$/i;

/** Compares in time independent of where the strings differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Served while the server stops (routes/drain.ts), with no input to refuse (no 422); a wrong
 * bearer counts against the address (429 past the limit), as does an admin's token. An admin's
 * token is checked in KV, so while the store does not answer it is 503 `unavailable` (README,
 * "Metrics"); the `METRICS_TOKEN` bearer is served then.
 */
const metrics = createRoute({
  method: "get",
  path: "/metrics",
  operationId: "getMetrics",
  tags: ["metrics"],
  summary: "Prometheus metrics (text format), for a scraper or an admin",
  description: "Send the server's `METRICS_TOKEN` as the bearer (a scraper needs no admin " +
    "account, and its reads are not counted against `API_RATE_LIMIT_PER_MIN`), or an admin's " +
    "API token. Other roles are 403. Served while the server stops, so a scrape sees the stop. " +
    "While the store does not answer, the `METRICS_TOKEN` bearer is served (the gauges read " +
    "from KV left out, `payops_metrics_kv_stale` 1) and an admin's token, which needs the " +
    "store to be checked, is 503 `unavailable`.",
  security: [{ metricsToken: [] }, { bearerAuth: [] }],
  responses: {
    200: {
      description: "the metrics, Prometheus text format 0.0.4",
      headers: {
        "cache-control": {
          description: "`no-store`: every scrape reads them afresh",
          required: true,
          schema: { type: "string", example: "no-store" },
        },
      },
      content: {
        "text/plain": {
          schema: z.string().openapi({
            example: "# TYPE payops_http_requests_total counter\n" +
              'payops_http_requests_total{method="GET",route="/healthz",status="200"} 1\n',
          }),
        },
      },
    },
    ...problemResponses("unauthenticated", "forbidden", "rate_limited", "unavailable"),
  },
});

export function metricsRoutes(metricsToken: string | undefined) {
  const router = createRouter();
  router.openapi(metrics, async (c) => {
    const identity = c.get("services").identity;
    const meta = requestMeta(c);
    const authorization = c.req.header("authorization");
    const token = authorization ? BEARER.exec(authorization)?.[1] : undefined;
    const scraper = metricsToken !== undefined && token !== undefined &&
      sameSecret(token, metricsToken);
    if (scraper) {
      // The address's lockout is kept in KV: a store that does not answer within the
      // readiness probe's time does not keep the right METRICS_TOKEN from its scrape, which
      // then says the store is stale (README, "Metrics").
      await within(identity.checkAddress(meta), KV_PROBE_MS, "the address check").catch((e) => {
        if (!(e instanceof DeadlineExceeded) && !isKvUnavailable(e)) throw e;
      });
    } else {
      const principal = await identity.authenticateRequest(authorization, meta).catch((e) => {
        if (!(e instanceof AppError) || e.code !== "unauthenticated") throw e;
        if (!token) {
          throw new AppError(
            "unauthenticated",
            "send Authorization: Bearer <METRICS_TOKEN> (or an admin's API token)",
          );
        }
        // A scraper's bearer is not an admin token: say what /metrics takes. The same words
        // whether METRICS_TOKEN is set or not: an unauthenticated caller learns nothing of it.
        if (!token.startsWith("pot_")) {
          throw new AppError(
            "unauthenticated",
            "this bearer is neither METRICS_TOKEN nor an admin's API token: give the scraper " +
              "the server's current METRICS_TOKEN (where none is set, set one of 16 characters " +
              "or more in the server's environment and restart it), or scrape with an admin's token",
          );
        }
        throw e;
      });
      await identity.throttle(principal, "api");
      if (principal.role !== "admin") {
        throw new AppError("forbidden", "metrics are for admins and the METRICS_TOKEN bearer");
      }
    }
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    c.header("Cache-Control", "no-store");
    return c.body(await c.get("services").metrics.render());
  });
  return router;
}
